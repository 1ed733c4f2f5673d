"""One Redis client per process for counters and limits (the cache API has no atomic TTL reads)."""

from collections.abc import Sequence
from functools import cache, lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3, decode_responses=True)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


@cache
def _script(client: redis.Redis, source: str):
    return client.register_script(source)


def run_script(source: str, keys: Sequence, args: Sequence):
    """Run a Lua script by its SHA-1 (EVALSHA): Redis keeps it compiled, so its text is sent only the
    first time and again after Redis restarted (redis-py's Script loads it on NoScriptError). EVAL
    sent the whole text with every request, and Redis hashed it each time."""
    return _script(get_redis(), source)(keys=list(keys), args=list(args))


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
    return int(run_script(_INCR_WINDOW, [key], [window_seconds]))
