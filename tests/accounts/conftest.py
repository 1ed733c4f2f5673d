import pytest

from apps.core.redis import get_redis


@pytest.fixture(autouse=True)
def _fresh_sign_in_counters():
    """Sign-in failure and password-reset counters live in Redis across tests; each test starts with
    none, as a real client meeting the product for the first time would."""
    client = get_redis()
    for pattern in ("deeplens:login-failures:*", "deeplens:password-reset:*"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)
