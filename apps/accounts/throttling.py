"""Throttling of repeated sign-in failures, per account and per client address, in Redis."""

from dataclasses import dataclass

from django.conf import settings

from apps.core.redis import get_redis, incr_with_window, redis_key


@dataclass(frozen=True)
class Throttled:
    retry_after: int


def _keys(*, tenant_key: str, email: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [
        (
            redis_key("login-failures", "account", tenant_key, email.lower()),
            settings.DEEPLENS_LOGIN_MAX_FAILURES,
        )
    ]
    if ip:
        keys.append((redis_key("login-failures", "ip", ip), settings.DEEPLENS_LOGIN_MAX_FAILURES_PER_IP))
    return keys


def login_throttle_check(*, tenant_key: str, email: str, ip: str | None) -> Throttled | None:
    client = get_redis()
    for key, limit in _keys(tenant_key=tenant_key, email=email, ip=ip):
        count = client.get(key)
        if count is not None and int(count) >= limit:
            return Throttled(retry_after=max(1, client.ttl(key)))
    return None


def login_failure_record(*, tenant_key: str, email: str, ip: str | None) -> None:
    for key, _limit in _keys(tenant_key=tenant_key, email=email, ip=ip):
        incr_with_window(key, settings.DEEPLENS_LOGIN_FAILURE_WINDOW_SECONDS)


def login_failures_clear(*, tenant_key: str, email: str) -> None:
    get_redis().delete(redis_key("login-failures", "account", tenant_key, email.lower()))
