"""One way to wait for something another process does."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    predicate: Callable[[], T],
    *,
    timeout: float = 30,
    interval: float = 0.1,
    message: str | Callable[[], str] = "the condition did not hold in time",
) -> T:
    """Call `predicate` until it returns something truthy and return that; fail after `timeout` seconds.

    `message` (or what it returns, called once at the end, e.g. to show the last state) says what
    was awaited. The predicate is always tried once more at the deadline, so a slow machine that
    got there just in time passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"{text} (waited {timeout:g} s)")
        time.sleep(interval)
