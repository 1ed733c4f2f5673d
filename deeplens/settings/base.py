"""Settings shared by every environment. Everything comes from the environment (see .env.example)."""

import contextlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

from apps.core.structured_logging import logging_config
from deeplens.settings.env import (
    BASE_DIR,
    data_dir,
    env_bool,
    env_int,
    env_list,
    env_str,
    service_url,
)

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-never-use-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)

# Tenants are served at <slug>.<DEEPLENS_BASE_DOMAIN>; the public site (admin, auth API) at the base domain.
DEEPLENS_BASE_DOMAIN = env_str("DEEPLENS_BASE_DOMAIN", "localhost")
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS",
    [DEEPLENS_BASE_DOMAIN, f".{DEEPLENS_BASE_DOMAIN}", "127.0.0.1"],
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

DEEPLENS_DATA_DIR = data_dir()

SHARED_APPS = [
    "django_tenants",
    "apps.core",
    "apps.tenants",
    "apps.accounts",
    "apps.audit",
    "apps.usage",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "apps.storage",
    "apps.images",
    "apps.search",
    "apps.duplicates",
    "apps.jobs",
    "apps.workspace",
    "apps.webhooks",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "deeplens.urls_public"
ROOT_URLCONF = "deeplens.urls_tenants"
# pgvector lives in its own schema, on every tenant's search path.
PG_EXTRA_SEARCH_PATHS = ["extensions"]
# django-tenants would query the database at start-up to check no tenant is called "extensions";
# that slug is reserved (apps/tenants/models.py), so the check is redundant and start-up stays offline.
SKIP_PG_EXTRA_VALIDATION = True
# `SET search_path` once per connection and schema, not before every query (it was every other
# statement of a request). Safe here: every schema switch (the tenant middleware, tenant_context /
# schema_context in Celery tasks, the job runner and commands through apps.tenants.services.in_tenant)
# goes through connection.set_tenant(), which makes the next cursor set the path again; close(),
# rollback() and savepoint_rollback() forget it too (django-tenants 4.0.1's backend), so a SET undone
# by a rollback is re-issued. Not safe behind a transaction-pooling proxy (PgBouncer), not used here.
# The database backend (deeplens/db/base.py) also skips a SET the session already has.
TENANT_LIMIT_SET_CALLS = True
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.TenantEmailBackend"]
# Emails are unique per tenant, not globally; TenantEmailBackend looks users up by tenant.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:index"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

MIDDLEWARE = [
    "apps.core.structured_logging.RequestIdMiddleware",
    "apps.core.middleware.ContentSecurityPolicyMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.core.middleware.HealthCheckMiddleware",
    "apps.tenants.middleware.TenantMiddleware",
    "apps.usage.middleware.RateLimitHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.TenantMembershipMiddleware",
    "apps.accounts.middleware.ImpersonationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Sent on every answer. Scripts only from this site and never inline; style attributes are allowed
# (bar widths, the admin); images from this site, data: and blob: (upload previews).
DEEPLENS_CONTENT_SECURITY_POLICY = env_str("DEEPLENS_CONTENT_SECURITY_POLICY") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
)

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.deeplens",
            ],
        },
    },
]

WSGI_APPLICATION = "deeplens.wsgi.application"
ASGI_APPLICATION = "deeplens.asgi.application"


def database_settings(url: str) -> dj_database_url.DBConfig:
    """Parse DATABASE_URL for django-tenants; a Unix socket given as ?host= becomes HOST."""
    config = dj_database_url.parse(url, engine="deeplens.db", conn_max_age=60)
    socket_dir = config.get("OPTIONS", {}).pop("host", None)
    if socket_dir and not config.get("HOST"):
        config["HOST"] = socket_dir
    config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
    return config


DATABASE_URL = service_url("DATABASE_URL")
DATABASES = {"default": database_settings(DATABASE_URL)} if DATABASE_URL else {}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = service_url("REDIS_URL")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "deeplens",
        "OPTIONS": {"socket_connect_timeout": 3, "socket_timeout": 3},
    }
}
if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Set in production (collectstatic); elsewhere WhiteNoise serves straight from the finders.
STATIC_ROOT: str | None = None
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the finders, so static files work without collectstatic in every mode.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Where each tenant's default filesystem storage location keeps its files.
DEEPLENS_MEDIA_ROOT = data_dir() / "media"

# Bring-your-own storage. Filesystem locations may only point under these roots ({tenant} is the
# tenant's slug, so each tenant gets its own folder); symlinks are resolved before the check.
DEEPLENS_FS_ROOTS = env_list("DEEPLENS_FS_ROOTS", [str(data_dir() / "storage" / "{tenant}")])
# Fernet key (urlsafe base64, 32 bytes) encrypting storage credentials at rest. Unset: derived from
# SECRET_KEY (development only; production settings refuse to start without it).
DEEPLENS_STORAGE_KEY = env_str("DEEPLENS_STORAGE_KEY", "")
# Older keys, still accepted for reading while `manage.py deeplens_rotate_storage_key` re-encrypts.
DEEPLENS_STORAGE_KEYS_PREVIOUS = env_list("DEEPLENS_STORAGE_KEYS_PREVIOUS", [])
# A background job (any kind) whose worker has not reported for this long is resumed elsewhere, at
# most DEEPLENS_JOB_MAX_ATTEMPTS times in all; DEEPLENS_STORAGE_JOB_STALE_SECONDS is the old name.
DEEPLENS_JOB_STALE_SECONDS = env_int(
    "DEEPLENS_JOB_STALE_SECONDS", env_int("DEEPLENS_STORAGE_JOB_STALE_SECONDS", 120)
)
DEEPLENS_JOB_MAX_ATTEMPTS = env_int("DEEPLENS_JOB_MAX_ATTEMPTS", 5)
# Seconds for connecting to and reading from object storage.
DEEPLENS_STORAGE_TIMEOUT_SECONDS = env_int("DEEPLENS_STORAGE_TIMEOUT_SECONDS", 20)

# Rows read on every request but rarely changed (tenant routing, image policy, thumbnail specs) are
# cached per process this long; a change shows within it.
DEEPLENS_PROCESS_CACHE_SECONDS = env_int("DEEPLENS_PROCESS_CACHE_SECONDS", 5)
# The rate limits' window: tier limits are per minute; tests shorten it to see windows turn over.
DEEPLENS_RATE_LIMIT_WINDOW_SECONDS = env_int("DEEPLENS_RATE_LIMIT_WINDOW_SECONDS", 60)

# Uploads: hashed while they stream in; over 2.5 MB they are spooled to disk, never held in memory.
FILE_UPLOAD_HANDLERS = [
    "apps.images.upload_handlers.HashingMemoryUploadHandler",
    "apps.images.upload_handlers.HashingTemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("DEEPLENS_MAX_FILES_PER_REQUEST", 200)
# Spooled uploads go to the product's own folder (not the system /tmp); files older than
# DEEPLENS_UPLOAD_SPOOL_MAX_AGE_SECONDS there are left by a dead worker and removed.
FILE_UPLOAD_TEMP_DIR = env_str("DEEPLENS_UPLOAD_SPOOL_DIR") or str(DEEPLENS_DATA_DIR / "tmp" / "uploads")
# Made here: Django's system check (every manage.py command, every process start) wants it to exist.
with contextlib.suppress(OSError):
    Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
DEEPLENS_UPLOAD_SPOOL_MAX_AGE_SECONDS = env_int("DEEPLENS_UPLOAD_SPOOL_MAX_AGE_SECONDS", 3600)
# Quota held by an upload between its check and its record; one left by a dead worker expires then.
DEEPLENS_UPLOAD_RESERVATION_SECONDS = env_int("DEEPLENS_UPLOAD_RESERVATION_SECONDS", 3600)
# How long an upload's Idempotency-Key answers retries with the first answer.
DEEPLENS_IDEMPOTENCY_KEY_SECONDS = env_int("DEEPLENS_IDEMPOTENCY_KEY_SECONDS", 24 * 3600)
# Retry-After of the 503 answered while PostgreSQL or Redis cannot be reached.
DEEPLENS_OUTAGE_RETRY_AFTER_SECONDS = env_int("DEEPLENS_OUTAGE_RETRY_AFTER_SECONDS", 10)
# The hard cap on one file whatever the tenant allows; tenants set lower limits in ImageSettings.
DEEPLENS_MAX_UPLOAD_BYTES = env_int("DEEPLENS_MAX_UPLOAD_BYTES", 512 * 1024 * 1024)
# Larger images are refused with 422 (decompression bombs); 200 megapixels covers real cameras.
DEEPLENS_MAX_IMAGE_PIXELS = env_int("DEEPLENS_MAX_IMAGE_PIXELS", 200_000_000)
# The decode budget (apps/images/imaging.py): an image whose decoded pixels (4 bytes each) pass
# DEEPLENS_DECODE_FREE_BYTES may take at most DEEPLENS_DECODE_MAX_RATIO times its file's size; a few
# bytes declaring a huge canvas are refused with 422 before anything is decoded.
DEEPLENS_DECODE_FREE_BYTES = env_int("DEEPLENS_DECODE_FREE_BYTES", 64 * 1024 * 1024)
DEEPLENS_DECODE_MAX_RATIO = env_int("DEEPLENS_DECODE_MAX_RATIO", 5000)
# URL imports: size cap, timeouts, redirects; addresses allowed although private (default none).
DEEPLENS_URL_FETCH_MAX_BYTES = env_int("DEEPLENS_URL_FETCH_MAX_BYTES", 100 * 1024 * 1024)
DEEPLENS_URL_FETCH_TIMEOUT_SECONDS = env_int("DEEPLENS_URL_FETCH_TIMEOUT_SECONDS", 20)
# Webhooks: each POST's timeout, how many tries a delivery gets (backoff 30 s x 4^n between them),
# and after how many deliveries failed in a row an endpoint is switched off.
DEEPLENS_WEBHOOK_TIMEOUT_SECONDS = env_int("DEEPLENS_WEBHOOK_TIMEOUT_SECONDS", 10)
DEEPLENS_WEBHOOK_MAX_ATTEMPTS = env_int("DEEPLENS_WEBHOOK_MAX_ATTEMPTS", 5)
DEEPLENS_WEBHOOK_DISABLE_AFTER = env_int("DEEPLENS_WEBHOOK_DISABLE_AFTER", 10)
# Whole-workspace export zips are deleted from storage this many days after they were made.
DEEPLENS_EXPORT_RETENTION_DAYS = env_int("DEEPLENS_EXPORT_RETENTION_DAYS", 7)
DEEPLENS_URL_FETCH_ALLOWED_NETWORKS = env_list("DEEPLENS_URL_FETCH_ALLOWED_NETWORKS", [])
# URL fetches (import, search by URL) at once: per tenant (whole installation) and per web process
# (below its 4 threads, so slow servers never take every thread; the rest answer 429 url_fetch_busy).
DEEPLENS_URL_FETCH_PER_TENANT = env_int("DEEPLENS_URL_FETCH_PER_TENANT", 2)
DEEPLENS_URL_FETCH_PER_PROCESS = env_int("DEEPLENS_URL_FETCH_PER_PROCESS", 2)
# S3/Azure endpoint URLs that tenant admins give must resolve to public addresses, or to one of these
# networks (CIDRs): a MinIO on the private network is allowed here by the operator, never by a tenant.
DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = env_list("DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS", [])
# S3 locations without keys and GCS ones without a service account act anonymously (public buckets).
# The master switch for the host's own cloud identity (instance metadata, environment): with it true,
# a location uses it only if a global admin also allowed it for that location (its
# ambient_credentials, set in the Django admin's Storage locations page; tenants cannot).
DEEPLENS_STORAGE_AMBIENT_CREDENTIALS = env_bool("DEEPLENS_STORAGE_AMBIENT_CREDENTIALS", False)
# Duplicate detection steps back while a tenant's uploads wait to be processed, for at most this long
# (then it runs anyway): on a small machine, ingestion keeps the CPU and detection catches up after.
DEEPLENS_INDEX_YIELD_SECONDS = env_int("DEEPLENS_INDEX_YIELD_SECONDS", 120)
# A processing task takes up to this many waiting images with it (one claim, one write per batch).
DEEPLENS_INGEST_BATCH = env_int("DEEPLENS_INGEST_BATCH", 8)
# A processing task takes batches until none waits, up to this many images, then hands over.
DEEPLENS_INGEST_TASK_MAX = env_int("DEEPLENS_INGEST_TASK_MAX", 200)
# WebP encoder effort for thumbnails: 0 is fastest (FACTS.md: 8.8 ms vs 30 ms at 4 for 1024 px).
DEEPLENS_WEBP_METHOD = env_int("DEEPLENS_WEBP_METHOD", 0)
# Thumbnails served from Redis up to this size, for this long.
DEEPLENS_THUMBNAIL_CACHE_SECONDS = env_int("DEEPLENS_THUMBNAIL_CACHE_SECONDS", 3600)
DEEPLENS_THUMBNAIL_CACHE_MAX_BYTES = env_int("DEEPLENS_THUMBNAIL_CACHE_MAX_BYTES", 512 * 1024)

REST_FRAMEWORK = {
    # Bearer first: its WWW-Authenticate header makes a missing credential a 401, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.BearerTokenAuthentication",
        "apps.accounts.authentication.ApiKeyAuthentication",
        "apps.accounts.authentication.CsrfSessionAuthentication",
    ],
    # Every view declares `required_permission`; a view that declares none is refused (fail closed).
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.api_permissions.HasPermission"],
    # Tier limits per tenant, API key and user, by endpoint class (apps/usage/ratelimit.py).
    "DEFAULT_THROTTLE_CLASSES": ["apps.usage.throttling.TenantRateLimit"],
    "EXCEPTION_HANDLER": "apps.core.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.DeepLensAutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=` is an image filter here, not DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DeepLens API",
    "DESCRIPTION": (
        "Image similarity search and duplicate detection, per tenant. Authenticate with "
        "`Authorization: Bearer <access token>` (POST /api/v1/auth/login) or "
        "`Authorization: Api-Key dl_<prefix>_<secret>`. Errors are "
        '`{"error": {"code", "message", "detail"}}`. Rate-limited responses carry RateLimit-* headers.'
    ),
    "VERSION": "1",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "TenantTierEnum": "apps.tenants.models.TenantTier",
        "TenantStatusEnum": "apps.tenants.models.TenantStatus",
        "ImageFormatEnum": "apps.images.models.ImageFormat",
        "ThumbnailFormatEnum": "apps.images.models.ThumbnailFormat",
        "JobStateEnum": "apps.jobs.models.Job.State",
        "RoleEnum": "apps.accounts.models.Role",
        "TenantRoleEnum": "apps.accounts.models.TENANT_ROLES",
        "TierValueEnum": "apps.tenants.models.TenantTier.values",
    },
}

# Tokens: access 15 minutes, refresh 7 days (rotated on every use; reuse revokes the family).
SIMPLE_JWT: dict[str, Any] = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("DEEPLENS_ACCESS_TOKEN_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("DEEPLENS_REFRESH_TOKEN_DAYS", 7)),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": SECRET_KEY,
    "ISSUER": "deeplens",
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "sub",
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
}
DEEPLENS_IMPERSONATION_MINUTES = env_int("DEEPLENS_IMPERSONATION_MINUTES", 30)
# Sign-in failures allowed per account and client address (the lock a guesser meets), per account
# from every address together (a ceiling against spread-out guessing), and per client address.
DEEPLENS_LOGIN_MAX_FAILURES = env_int("DEEPLENS_LOGIN_MAX_FAILURES", 5)
DEEPLENS_LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("DEEPLENS_LOGIN_MAX_FAILURES_PER_ACCOUNT", 100)
DEEPLENS_LOGIN_MAX_FAILURES_PER_IP = env_int("DEEPLENS_LOGIN_MAX_FAILURES_PER_IP", 50)
DEEPLENS_LOGIN_FAILURE_WINDOW_SECONDS = env_int("DEEPLENS_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
# Two-factor sign-in: how long the challenge between the password and the code lives, and how many
# wrong codes one challenge takes (the sign-in failure counters above apply to codes as well).
DEEPLENS_MFA_CHALLENGE_SECONDS = env_int("DEEPLENS_MFA_CHALLENGE_SECONDS", 5 * 60)
DEEPLENS_MFA_CHALLENGE_MAX_ATTEMPTS = env_int("DEEPLENS_MFA_CHALLENGE_MAX_ATTEMPTS", 5)
DEEPLENS_MFA_ISSUER = env_str("DEEPLENS_MFA_ISSUER", "DeepLens")
# Self-service sign-up (off by default): a visitor creates a Free workspace and becomes its owner after
# confirming their e-mail address. Requests are limited per client address; the link lives two days.
DEEPLENS_SIGNUP_ENABLED = env_bool("DEEPLENS_SIGNUP_ENABLED", False)
DEEPLENS_SIGNUP_MAX_PER_IP = env_int("DEEPLENS_SIGNUP_MAX_PER_IP", 5)
DEEPLENS_SIGNUP_WINDOW_SECONDS = env_int("DEEPLENS_SIGNUP_WINDOW_SECONDS", 60 * 60)
DEEPLENS_SIGNUP_LINK_SECONDS = env_int("DEEPLENS_SIGNUP_LINK_SECONDS", 2 * 24 * 3600)
# Single sign-on (OpenID Connect): identity providers are on public addresses unless an operator allows
# an internal network here (as for storage endpoints); how long each call to a provider may take; the
# clock skew tolerated on ID tokens' exp/iat.
DEEPLENS_SSO_ALLOWED_NETWORKS = env_list("DEEPLENS_SSO_ALLOWED_NETWORKS", [])
DEEPLENS_SSO_HTTP_TIMEOUT_SECONDS = env_int("DEEPLENS_SSO_HTTP_TIMEOUT_SECONDS", 10)
DEEPLENS_SSO_CLOCK_SKEW_SECONDS = env_int("DEEPLENS_SSO_CLOCK_SKEW_SECONDS", 60)
# Password-reset mails per address and per client address within the window; then 429.
DEEPLENS_PASSWORD_RESET_MAX_PER_ADDRESS = env_int("DEEPLENS_PASSWORD_RESET_MAX_PER_ADDRESS", 3)
DEEPLENS_PASSWORD_RESET_MAX_PER_IP = env_int("DEEPLENS_PASSWORD_RESET_MAX_PER_IP", 20)
DEEPLENS_PASSWORD_RESET_WINDOW_SECONDS = env_int("DEEPLENS_PASSWORD_RESET_WINDOW_SECONDS", 60 * 60)

# Mail (password resets, invitations). Locally each message is a file under var/mail.
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(data_dir() / "mail")
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEEPLENS_FROM_EMAIL", "DeepLens <no-reply@deeplens.local>")
PASSWORD_RESET_TIMEOUT = 3 * 24 * 3600

# Celery: Redis is the broker and the result store. Queues and routes live in celery_app.py.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_BROKER_CONNECTION_TIMEOUT = 5
# A message a worker took and never acked (the worker died, or lost Redis) goes back to its queue
# once it is this old: a little above the 15-minute task time limit, so a running task is never
# handed out twice. It must also exceed the longest countdown/ETA we send (ETA messages wait unacked).
DEEPLENS_BROKER_VISIBILITY_TIMEOUT = env_int("DEEPLENS_BROKER_VISIBILITY_TIMEOUT", 16 * 60)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(data_dir() / "run" / "celerybeat-schedule")

LOG_LEVEL = env_str("DEEPLENS_LOG_LEVEL", "INFO")
# json: one object per line with request id, tenant, user, impersonator, trace id (production's
# default); console: readable lines with the same context (the default elsewhere).
LOG_FORMAT = env_str("DEEPLENS_LOG_FORMAT") or "console"
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)

# /metrics: clients in these networks (CIDRs) may scrape without a credential. Default none: behind
# a reverse proxy on the same host every visitor would come from loopback. Global admins and API
# keys with the `metrics` scope may always read it. (README "Observability")
DEEPLENS_METRICS_ALLOW_NETWORKS = env_list("DEEPLENS_METRICS_ALLOW_NETWORKS", [])

# Seeded by `manage.py deeplens_bootstrap` (idempotent); scripts can log in with these.
DEEPLENS_SUPERUSER_EMAIL = env_str("DEEPLENS_SUPERUSER_EMAIL", "admin@deeplens.local")
DEEPLENS_SUPERUSER_PASSWORD = env_str("DEEPLENS_SUPERUSER_PASSWORD", "deeplens-admin")
DEEPLENS_DEMO_ADMIN_EMAIL = env_str("DEEPLENS_DEMO_ADMIN_EMAIL", "admin@demo.local")
DEEPLENS_DEMO_ADMIN_PASSWORD = env_str("DEEPLENS_DEMO_ADMIN_PASSWORD", "demo-admin")
DEEPLENS_DEMO_MEMBER_EMAIL = env_str("DEEPLENS_DEMO_MEMBER_EMAIL", "member@demo.local")
DEEPLENS_DEMO_MEMBER_PASSWORD = env_str("DEEPLENS_DEMO_MEMBER_PASSWORD", "demo-member")

DEEPLENS_PORT = env_int("DEEPLENS_PORT", 8000)

# Similarity search (apps/search). Models need configured weights; the descriptor is always on.
DEEPLENS_CLIP_MODEL = env_str("DEEPLENS_CLIP_MODEL", "ViT-B-32")
DEEPLENS_CLIP_PRETRAINED = env_str("DEEPLENS_CLIP_PRETRAINED", "")  # e.g. laion2b_s34b_b79k (online)
DEEPLENS_CLIP_CHECKPOINT = env_str("DEEPLENS_CLIP_CHECKPOINT", "")  # a local open_clip checkpoint file
DEEPLENS_CLIP_MODEL_CONFIG = env_str("DEEPLENS_CLIP_MODEL_CONFIG", "")  # open_clip config JSON, custom models
DEEPLENS_RESNET50_WEIGHTS = env_str("DEEPLENS_RESNET50_WEIGHTS", "")  # a torchvision state dict file
DEEPLENS_RESNET50_DOWNLOAD = env_bool("DEEPLENS_RESNET50_DOWNLOAD", False)
DEEPLENS_EMBED_DEVICE = env_str("DEEPLENS_EMBED_DEVICE", "auto")  # auto | cuda | cpu
DEEPLENS_EMBED_THREADS = env_int("DEEPLENS_EMBED_THREADS", 0)  # 0: every core of the worker
DEEPLENS_EMBED_BATCH = env_int("DEEPLENS_EMBED_BATCH", 32)
# CLIP's image tower: auto (ONNX Runtime with int8 weights on CPUs where installed, torch fp16 on
# GPUs) | torch | onnx (fp32, torch's vectors) | onnx-int8. Exported towers live in the cache dir.
DEEPLENS_EMBED_RUNTIME = env_str("DEEPLENS_EMBED_RUNTIME", "auto")
DEEPLENS_MODEL_CACHE_DIR = env_str("DEEPLENS_MODEL_CACHE_DIR", str(DEEPLENS_DATA_DIR / "models"))
DEEPLENS_HNSW_M = env_int("DEEPLENS_HNSW_M", 16)
DEEPLENS_HNSW_EF_CONSTRUCTION = env_int("DEEPLENS_HNSW_EF_CONSTRUCTION", 64)
DEEPLENS_HNSW_EF_SEARCH = env_int("DEEPLENS_HNSW_EF_SEARCH", 200)
DEEPLENS_SEARCH_CACHE_SECONDS = env_int("DEEPLENS_SEARCH_CACHE_SECONDS", 300)
DEEPLENS_SEARCH_EMBED_TIMEOUT_SECONDS = env_int("DEEPLENS_SEARCH_EMBED_TIMEOUT_SECONDS", 30)
DEEPLENS_SEARCH_MAX_QUERY_BYTES = env_int("DEEPLENS_SEARCH_MAX_QUERY_BYTES", 20 * 1024 * 1024)
# How long the search page keeps an uploaded query image (Redis) while its filters change.
DEEPLENS_SEARCH_QUERY_SECONDS = env_int("DEEPLENS_SEARCH_QUERY_SECONDS", 1800)
