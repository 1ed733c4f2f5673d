"""One Redis client per process for counters and limits (the cache API has no atomic TTL reads)."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3, decode_responses=True)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def redis_key(*parts: object) -> str:
    """Keys carry the tenant where they concern one: deeplens:<part>:<part>..."""
    return ":".join(["deeplens", *(str(part) for part in parts)])


# INCR that starts the key's time window on first use; atomic, and works on Redis 6.2 (no EXPIRE NX).
_INCR_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def incr_with_window(key: str, window_seconds: int) -> int:
    return int(get_redis().eval(_INCR_WINDOW, 1, key, window_seconds))
