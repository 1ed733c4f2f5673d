"""Local development: `make run` (embedded servers) or your own DATABASE_URL / REDIS_URL."""

from django.core.exceptions import ImproperlyConfigured

from deeplens.settings.base import *  # noqa: F403
from deeplens.settings.env import env_bool, env_list, env_str, local_secret_key

# Off unless asked for: with DEBUG on, Django records every query (slow, and it grows without bound
# in Celery workers) and shows tracebacks to visitors. DJANGO_DEBUG=true while developing.
DEBUG = env_bool("DJANGO_DEBUG", False)
WHITENOISE_AUTOREFRESH = DEBUG

# Without DJANGO_SECRET_KEY, a random key made on the first start and kept in the data dir signs
# sessions and tokens (never the development key base.py names, which anyone can read).
if not env_str("DJANGO_SECRET_KEY"):
    SECRET_KEY = local_secret_key()
    SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}  # noqa: F405

if not DATABASES:  # noqa: F405
    raise ImproperlyConfigured(
        "No database configured: set DATABASE_URL, or start DeepLens with `make run`, which starts "
        "the embedded PostgreSQL and Redis (or `make services` for the servers alone)."
    )

# A scraper on this machine may read /metrics without a credential when running locally.
DEEPLENS_METRICS_ALLOW_NETWORKS = env_list("DEEPLENS_METRICS_ALLOW_NETWORKS", ["127.0.0.1/32", "::1/128"])
# A local MinIO or Azurite on this machine may serve as a storage location.
DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = env_list(
    "DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"]
)
# An identity provider on this machine (the tests' OpenID provider, a local Keycloak).
DEEPLENS_SSO_ALLOWED_NETWORKS = env_list("DEEPLENS_SSO_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
