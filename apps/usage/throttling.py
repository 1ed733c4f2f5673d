"""The API's rate limits as a DRF throttle: every tenant request of a user or API key is counted
after authentication and permission checks. Views name their class with `rate_limit_class`."""

from rest_framework.throttling import BaseThrottle

from apps.accounts.models import ApiKey, Role
from apps.core.metrics import rate_limit_rejection_record
from apps.usage.errors import DailyQuotaExceeded, RateLimited
from apps.usage.ratelimit import EndpointClass, rate_limit_consume, rate_limit_consume_units

SCOPE_NAMES = {
    "tenant": "the workspace's requests per minute",
    "tenant_search": "the workspace's searches per minute",
    "tenant_upload": "the workspace's uploads per minute",
    "api_key": "this API key's requests per minute",
    "user": "your requests per minute",
}


def request_principal(request) -> tuple[str, object, int | None] | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.role == Role.GLOBAL_ADMIN:
        return None
    key = getattr(request, "api_key", None)
    if isinstance(key, ApiKey):
        return ("api_key", key.pk, key.requests_per_minute)
    return ("user", user.pk, user.requests_per_minute)


class TenantRateLimit(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        tenant = getattr(request, "tenant", None)
        principal = request_principal(request)
        if tenant is None or principal is None or getattr(tenant, "schema_name", "public") == "public":
            return True
        klass = EndpointClass(getattr(view, "rate_limit_class", EndpointClass.GENERAL))
        decision = rate_limit_consume(tenant=tenant, klass=klass, principal=principal)
        if decision is None:
            return True
        # The response middleware writes the RateLimit-* headers from this, refused or not.
        request._request.rate_limit = decision
        if decision.allowed:
            return True
        raise_refused(decision, tenant=tenant, klass=klass)
        return False  # raise_refused raises; said for the type checker


def rate_limit_units_consume(request, view, units: int) -> None:
    """A request that turns out to be N operations of its class (a batch upload of N files) counts
    the other N - 1 once it knows N; raises 429 when they do not fit (nothing of them is counted)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or request_principal(request) is None or tenant.schema_name == "public":
        return
    klass = EndpointClass(getattr(view, "rate_limit_class", EndpointClass.GENERAL))
    decision = rate_limit_consume_units(tenant=tenant, klass=klass, units=units)
    if decision is not None and not decision.allowed:
        raise_refused(decision, tenant=tenant, klass=klass, units=units + 1)


def raise_refused(decision, *, tenant, klass: EndpointClass, units: int = 1):
    rate_limit_rejection_record(endpoint_class=str(klass), scope=decision.refused_scope)
    if units > 1:
        raise RateLimited(
            f"Too many requests: this request is {units} {klass}s and {SCOPE_NAMES[decision.refused_scope]} "
            f"({decision.limit:,}) have {decision.remaining + 1} left; none of them was taken. Try again "
            f"in {decision.retry_after} s, or send fewer files.",
            extra={
                "limit": decision.limit,
                "scope": decision.refused_scope,
                "endpoint_class": str(klass),
                "units": units,
                "remaining": decision.remaining + 1,
                "retry_after": decision.retry_after,
            },
        )
    if decision.refused_scope == "day":
        raise DailyQuotaExceeded(
            f"The workspace has used its {decision.limit:,} API calls for today; the quota turns "
            f"over at midnight ({tenant.time_zone}).",
            extra={"limit": decision.limit, "retry_after": decision.retry_after},
        )
    raise RateLimited(
        f"Too many requests: {SCOPE_NAMES[decision.refused_scope]} ({decision.limit:,}) are used up. "
        f"Try again in {decision.retry_after} s.",
        extra={
            "limit": decision.limit,
            "scope": decision.refused_scope,
            "endpoint_class": str(klass),
            "retry_after": decision.retry_after,
        },
    )
