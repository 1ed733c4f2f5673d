"""Readiness checks: each returns None when the component answers, or raises with a readable reason."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    ms: float
    error: str = ""

    def as_dict(self) -> dict:
        result: dict[str, object] = {"ok": self.ok, "ms": round(self.ms, 1)}

        if self.error:
            result["error"] = self.error
        return result


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        if cursor.fetchone() is None:
            raise RuntimeError("the pgvector extension is not installed")


def check_redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    from celery_app import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


def check_storage() -> None:
    root = Path(settings.DEEPLENS_MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    probe = root / ".readyz"
    probe.write_bytes(b"ok")
    probe.unlink()


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "storage": check_storage,
}


def run_checks() -> list[CheckResult]:
    results = []
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - a readiness probe reports any failure by name
            elapsed = (time.perf_counter() - started) * 1000
            results.append(CheckResult(name, False, elapsed, f"{type(exc).__name__}: {exc}"))
        else:
            results.append(CheckResult(name, True, (time.perf_counter() - started) * 1000))
    return results
