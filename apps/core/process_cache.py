"""A small per-process cache with a time limit, for rows read on every request or task that change
rarely (tenant routing, image policy, thumbnail specs). Changes show within `seconds`.

An entry cached with a `scope` (a tenant's schema) also carries that scope's version, a counter in
Redis: `invalidate(scope)` bumps it, so every web and worker process reloads its copy at its next
read instead of after `seconds`. Reading the version is one Redis GET; when Redis does not answer,
the time limit alone applies."""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from apps.core.redis import get_redis, redis_key

T = TypeVar("T")

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_entries: dict[tuple, tuple[float, str | None, object]] = {}
MAX_ENTRIES = 10_000


def _version_key(scope: str) -> str:
    return redis_key("cache-version", scope)


def scope_version(scope: str) -> str | None:
    try:
        value = get_redis().get(_version_key(scope))
    except redis.RedisError:
        return None
    return str(value or "0")


def cached(key: tuple, seconds: float, load: Callable[[], T], *, scope: str | None = None) -> T:
    now = time.monotonic()
    version = scope_version(scope) if scope is not None else None
    entry = _entries.get(key)
    if entry is not None and entry[0] > now and entry[1] == version:
        return entry[2]  # type: ignore[return-value]
    value = load()
    if seconds > 0:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[key] = (now + seconds, version, value)
    return value


def forget(key: tuple) -> None:
    with _lock:
        _entries.pop(key, None)


def invalidate(scope: str, *keys: tuple) -> None:
    """Drop `keys` here and make every process reload whatever it cached under `scope`. Call it
    after the change is committed (transaction.on_commit), or another process may reload the old
    rows and keep them."""
    for key in keys:
        forget(key)
    try:
        get_redis().incr(_version_key(scope))
    except redis.RedisError:
        logger.warning("process cache: could not bump the version of %s; others see it later", scope)


def clear() -> None:
    with _lock:
        _entries.clear()
