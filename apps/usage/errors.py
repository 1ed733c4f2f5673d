from apps.core.errors import ApplicationError


class RateLimited(ApplicationError):
    http_status = 429
    code = "rate_limited"


class DailyQuotaExceeded(ApplicationError):
    http_status = 429
    code = "daily_quota_exceeded"
