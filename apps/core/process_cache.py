"""A small per-process cache with a time limit, for rows read on every request or task that change
rarely (tenant routing, image policy, thumbnail specs). Changes show within `seconds`."""

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_entries: dict[tuple, tuple[float, object]] = {}
MAX_ENTRIES = 10_000


def cached(key: tuple, seconds: float, load: Callable[[], T]) -> T:
    now = time.monotonic()
    entry = _entries.get(key)
    if entry is not None and entry[0] > now:
        return entry[1]  # type: ignore[return-value]
    value = load()
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[key] = (now + seconds, value)
    return value


def forget(key: tuple) -> None:
    with _lock:
        _entries.pop(key, None)


def clear() -> None:
    with _lock:
        _entries.clear()
