"""Production: every secret and server comes from the environment; nothing is started for you."""

from django.core.exceptions import ImproperlyConfigured

from apps.core.structured_logging import logging_config
from deeplens.settings.base import *  # noqa: F403
from deeplens.settings.env import env_bool, env_int, env_str

DEBUG = False

_missing = [name for name in ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL") if not env_str(name)]
if _missing:
    raise ImproperlyConfigured(f"Production settings need {', '.join(_missing)} in the environment.")

if not env_str("DEEPLENS_STORAGE_KEY"):
    raise ImproperlyConfigured(
        "Production settings need DEEPLENS_STORAGE_KEY (a Fernet key) to encrypt storage credentials."
    )

if len(SECRET_KEY) < 50:  # noqa: F405
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 50 characters (it signs tokens too).")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# HSTS on by default (a year, tenants' subdomains included); DJANGO_SECURE_HSTS_SECONDS=0 turns it off.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = env_str("DJANGO_STATIC_ROOT", str(DEEPLENS_DATA_DIR / "static"))  # noqa: F405

# Machine-readable logs unless asked otherwise.
LOG_FORMAT = env_str("DEEPLENS_LOG_FORMAT") or "json"
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)  # noqa: F405
