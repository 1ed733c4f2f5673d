"""Per-minute rate limits and the daily API call quota, counted in Redis, exact under concurrency.

Every API request of a tenant's user or API key is counted in fixed windows: the tenant's requests
per minute (all classes), its searches or uploads per minute (by endpoint class), the principal's own
per-minute limit where one is set (stricter than the tenant's), and the tenant's calls per day, which
turns over at midnight in the tenant's time zone. One Lua script checks every counter and increments
them all only when none is exhausted, so N concurrent requests against a limit of L admit exactly L,
and a refused request consumes nothing. Libraries such as `limits` check one counter at a time, which
would let a request refused by one limit still consume the others.
"""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import redis
from django.conf import settings

from apps.core.redis import redis_key, run_script

logger = logging.getLogger(__name__)


class EndpointClass(StrEnum):
    GENERAL = "general"
    SEARCH = "search"
    UPLOAD = "upload"


CLASS_LIMIT_FIELD = {
    EndpointClass.SEARCH: "searches_per_minute",
    EndpointClass.UPLOAD: "uploads_per_minute",
}

# Usage counters per tenant and day, kept long enough for this month's figures.
USAGE_TTL_SECONDS = 40 * 24 * 3600

_CONSUME = """
local n = tonumber(ARGV[1])
local usage = KEYS[n + 1]
local field = ARGV[2 * n + 2]
for i = 1, n do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  if count >= tonumber(ARGV[1 + i]) then
    redis.call('HINCRBY', usage, 'rejected:' .. field, 1)
    redis.call('EXPIRE', usage, ARGV[2 * n + 3])
    local ttl = redis.call('TTL', KEYS[i])
    if ttl < 0 then ttl = tonumber(ARGV[1 + n + i]) end
    return {0, i, ttl}
  end
end
local result = {1, 0, 0}
for i = 1, n do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1 + n + i]) end
  result[#result + 1] = count
end
redis.call('HINCRBY', usage, 'all', 1)
redis.call('HINCRBY', usage, field, 1)
redis.call('EXPIRE', usage, ARGV[2 * n + 3])
return result
"""


# More units of one endpoint class for a request already counted (a batch of N files is N uploads):
# all of them or none, checked and added in one step like _CONSUME.
_CONSUME_UNITS = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local units = tonumber(ARGV[1])
if count + units > tonumber(ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], 'rejected:' .. ARGV[4], 1)
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[3]) end
  return {0, ttl, count}
end
local total = redis.call('INCRBY', KEYS[1], units)
if total == units then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
redis.call('HINCRBY', KEYS[2], ARGV[4], units)
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {1, 0, total}
"""


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    ttl: int
    scope: str  # tenant, tenant_class, api_key, user, day
    per_minute: bool = True


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int
    # Set when refused: which limit, and for how long.
    refused_scope: str = ""
    retry_after: int = 0
    daily_remaining: int | None = None


def window_seconds() -> int:
    return settings.DEEPLENS_RATE_LIMIT_WINDOW_SECONDS


def tenant_today(tenant) -> datetime:
    return datetime.now(ZoneInfo(tenant.time_zone or "UTC"))


def seconds_to_midnight(now: datetime) -> int:
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    return max(1, int((midnight - now).total_seconds()))


def usage_key(tenant_id, day) -> str:
    return redis_key("usage", tenant_id, day.isoformat())


def counters_for(
    *,
    tenant,
    klass: EndpointClass,
    principal: tuple[str, object, int | None],
    local_now: datetime | None = None,
) -> list[Counter]:
    limits = tenant.limits
    window = window_seconds()
    now = time.time()
    slot = int(now // window)
    ttl = window - int(now % window) + 1
    base = ("rl", tenant.pk)
    counters = [Counter(redis_key(*base, "all", slot), limits.requests_per_minute, ttl, "tenant")]
    if klass in CLASS_LIMIT_FIELD:
        limit = getattr(limits, CLASS_LIMIT_FIELD[klass])
        counters.append(Counter(redis_key(*base, klass, slot), limit, ttl, f"tenant_{klass}"))
    kind, principal_id, principal_limit = principal
    if principal_limit is not None:
        counters.append(Counter(redis_key(*base, kind, principal_id, slot), principal_limit, ttl, kind))
    local_now = local_now or tenant_today(tenant)
    counters.append(
        Counter(
            redis_key(*base, "day", local_now.date().isoformat()),
            limits.max_api_calls_per_day,
            seconds_to_midnight(local_now) + 60,
            "day",
            per_minute=False,
        )
    )
    return counters


def rate_limit_consume(
    *, tenant, klass: EndpointClass, principal: tuple[str, object, int | None]
) -> Decision | None:
    """Count one request, or refuse it. None when Redis cannot be reached: requests are then let
    through (and logged) rather than the whole API going down with the cache."""
    local_now = tenant_today(tenant)
    counters = counters_for(tenant=tenant, klass=klass, principal=principal, local_now=local_now)
    n = len(counters)
    keys = [counter.key for counter in counters] + [usage_key(tenant.pk, local_now.date())]
    args: list[int | str] = [
        n,
        *(c.limit for c in counters),
        *(c.ttl for c in counters),
        str(klass),
        USAGE_TTL_SECONDS,
    ]
    try:
        result = run_script(_CONSUME, keys, args)
    except redis.RedisError as exc:
        logger.warning("rate limits not enforced, Redis unavailable: %s", exc)
        return None
    allowed, index, ttl = int(result[0]), int(result[1]), int(result[2])
    if not allowed:
        refused = counters[index - 1]
        return Decision(
            allowed=False,
            limit=refused.limit,
            remaining=0,
            reset=max(1, ttl),
            refused_scope=refused.scope,
            retry_after=max(1, ttl),
            daily_remaining=0 if refused.scope == "day" else None,
        )
    counts = [int(value) for value in result[3:]]
    remaining = [(max(0, c.limit - count), c) for count, c in zip(counts, counters, strict=True)]
    per_minute = [(left, c) for left, c in remaining if c.per_minute]
    left, tightest = min(per_minute, key=lambda pair: pair[0])
    return Decision(
        allowed=True,
        limit=tightest.limit,
        remaining=left,
        reset=tightest.ttl,
        daily_remaining=remaining[-1][0],
    )


def rate_limit_consume_units(*, tenant, klass: EndpointClass, units: int) -> Decision | None:
    """Count `units` more against the tenant's per-minute limit of `klass` (searches, uploads) for a
    request rate_limit_consume already counted once: a batch of N files takes N uploads. All or
    nothing; None when there is nothing to count or Redis cannot be reached."""
    if units <= 0 or klass not in CLASS_LIMIT_FIELD:
        return None
    counter = next(
        c
        for c in counters_for(tenant=tenant, klass=klass, principal=("", None, None))
        if c.scope == f"tenant_{klass}"
    )
    keys = [counter.key, usage_key(tenant.pk, tenant_today(tenant).date())]
    args: list[str | int] = [units, counter.limit, counter.ttl, str(klass), USAGE_TTL_SECONDS]
    try:
        allowed, ttl, count = (int(v) for v in run_script(_CONSUME_UNITS, keys, args))
    except redis.RedisError as exc:
        logger.warning("rate limits not enforced, Redis unavailable: %s", exc)
        return None
    if not allowed:
        return Decision(
            allowed=False,
            limit=counter.limit,
            remaining=max(0, counter.limit - count),
            reset=max(1, ttl),
            refused_scope=counter.scope,
            retry_after=max(1, ttl),
        )
    return Decision(
        allowed=True, limit=counter.limit, remaining=max(0, counter.limit - count), reset=counter.ttl
    )
