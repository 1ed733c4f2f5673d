"""Throttling of sign-in failures and password-reset mails, in Redis.

Sign-in failures are counted three ways within DEEPLENS_LOGIN_FAILURE_WINDOW_SECONDS:
- per account *and* client address (DEEPLENS_LOGIN_MAX_FAILURES): the lock a guesser meets; it cannot
  be imposed on the account's owner from another address;
- per account from anywhere (DEEPLENS_LOGIN_MAX_FAILURES_PER_ACCOUNT): a much higher ceiling against
  guessing spread over many addresses;
- per client address (DEEPLENS_LOGIN_MAX_FAILURES_PER_IP): one address guessing many accounts.

The account is the normalised e-mail (stripped, lower case), exactly as the sign-in backend looks it
up, so spaces or capitals around an address do not open a fresh counter.
"""

from dataclasses import dataclass

from django.conf import settings

from apps.core.redis import get_redis, incr_with_window, redis_key


@dataclass(frozen=True)
class Throttled:
    retry_after: int


def normalise_email(email: str) -> str:
    """The account key: what TenantEmailBackend looks up."""
    return (email or "").strip().lower()


def _login_keys(*, tenant_key: str, email: str, ip: str | None) -> list[tuple[str, int]]:
    account = normalise_email(email)
    keys = [
        (
            redis_key("login-failures", "account", tenant_key, account),
            settings.DEEPLENS_LOGIN_MAX_FAILURES_PER_ACCOUNT,
        )
    ]
    if ip:
        keys.append(
            (
                redis_key("login-failures", "account-client", tenant_key, account, ip),
                settings.DEEPLENS_LOGIN_MAX_FAILURES,
            )
        )
        keys.append((redis_key("login-failures", "ip", ip), settings.DEEPLENS_LOGIN_MAX_FAILURES_PER_IP))
    return keys


def _check(keys: list[tuple[str, int]]) -> Throttled | None:
    client = get_redis()
    for key, limit in keys:
        count = client.get(key)
        if count is not None and int(count) >= limit:
            return Throttled(retry_after=max(1, client.ttl(key)))
    return None


def login_throttle_check(*, tenant_key: str, email: str, ip: str | None) -> Throttled | None:
    return _check(_login_keys(tenant_key=tenant_key, email=email, ip=ip))


def login_failure_record(*, tenant_key: str, email: str, ip: str | None) -> None:
    for key, _limit in _login_keys(tenant_key=tenant_key, email=email, ip=ip):
        incr_with_window(key, settings.DEEPLENS_LOGIN_FAILURE_WINDOW_SECONDS)


def login_failures_clear(*, tenant_key: str, email: str, ip: str | None) -> None:
    """A success clears this client's count for the account; the account-wide ceiling and the
    client's own count stay (a right guess must not reset the evidence of the wrong ones elsewhere)."""
    if ip:
        get_redis().delete(
            redis_key("login-failures", "account-client", tenant_key, normalise_email(email), ip)
        )


def _reset_keys(*, tenant_key: str, email: str, ip: str | None) -> list[tuple[str, int]]:
    keys = [
        (
            redis_key("password-reset", "account", tenant_key, normalise_email(email)),
            settings.DEEPLENS_PASSWORD_RESET_MAX_PER_ADDRESS,
        )
    ]
    if ip:
        keys.append((redis_key("password-reset", "ip", ip), settings.DEEPLENS_PASSWORD_RESET_MAX_PER_IP))
    return keys


def password_reset_throttle_hit(*, tenant_key: str, email: str, ip: str | None) -> Throttled | None:
    """Count a reset request; Throttled once the address or the client has asked too often (whether
    or not the account exists, so the answer reveals nothing)."""
    keys = _reset_keys(tenant_key=tenant_key, email=email, ip=ip)
    throttled = _check(keys)
    if throttled is not None:
        return throttled
    for key, _limit in keys:
        incr_with_window(key, settings.DEEPLENS_PASSWORD_RESET_WINDOW_SECONDS)
    return None
