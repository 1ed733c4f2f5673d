"""Settings for pytest.

Without DATABASE_URL / REDIS_URL, the test run starts its own embedded PostgreSQL (data under
var/test, reused between runs; pytest-django creates a fresh test database in it) and Redis (a free
port, a temporary folder), once per run. pytest-django reads DATABASES before any conftest loads,
so they start here; tests/conftest.py exposes them as session fixtures. Processes the tests start
(Celery workers, the runner) inherit the URLs through the environment.
"""

import atexit
import os
import tempfile
from pathlib import Path

from deeplens.settings.env import BASE_DIR, env_int, env_str

if not env_str("DATABASE_URL") or not env_str("REDIS_URL"):
    from deeplens.embedded import EmbeddedPostgres, EmbeddedRedis

    if not env_str("DATABASE_URL"):
        _postgres = EmbeddedPostgres(Path(env_str("DEEPLENS_TEST_DATA_DIR", str(BASE_DIR / "var" / "test"))))
        os.environ["DATABASE_URL"] = _postgres.start()
        atexit.register(_postgres.stop)
    if not env_str("REDIS_URL"):
        _redis = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="deeplens-test-redis-")))
        os.environ["REDIS_URL"] = _redis.start()
        atexit.register(_redis.stop)

os.environ.setdefault("DEEPLENS_DATA_DIR", tempfile.mkdtemp(prefix="deeplens-test-data-"))
# Metrics of this process and of the Celery workers it starts add up in one folder, as in production.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="deeplens-test-metrics-"))

from deeplens.settings.base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-long-enough-for-hs256"
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": SECRET_KEY}  # noqa: F405
# Hashing cost is not what the tests measure; Argon2 itself is covered by the identity tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# Tests change tenants and settings between requests; nothing may be served stale. A test that
# checks how the cache is kept fresh starts its worker with DEEPLENS_TEST_PROCESS_CACHE_SECONDS.
DEEPLENS_PROCESS_CACHE_SECONDS = env_int("DEEPLENS_TEST_PROCESS_CACHE_SECONDS", 0)

# A tiny open_clip model whose random weights the search tests save to this checkpoint
# (tests/search/clip_fixture.py): the local-checkpoint path, as an air-gapped install uses it.
DEEPLENS_CLIP_MODEL = "deeplens-tiny-test"
DEEPLENS_CLIP_CHECKPOINT = str(BASE_DIR / "var" / "test" / "models" / "tiny-clip.pt")
DEEPLENS_CLIP_MODEL_CONFIG = str(BASE_DIR / "var" / "test" / "models" / "tiny-clip.json")
DEEPLENS_SEARCH_CACHE_SECONDS = 300
# Detection runs at once in tests (tests/duplicates/test_yield.py turns the yielding on).
DEEPLENS_INDEX_YIELD_SECONDS = 0
# The tests' moto and Azurite servers listen on loopback.
DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
DEEPLENS_SSO_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
