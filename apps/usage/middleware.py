class RateLimitHeadersMiddleware:
    """Every rate-limited API response carries the remaining budget of its tightest limit
    (the IETF RateLimit header fields) and of the day's API calls."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        decision = getattr(request, "rate_limit", None)
        if decision is not None:
            response["RateLimit-Limit"] = str(decision.limit)
            response["RateLimit-Remaining"] = str(decision.remaining)
            response["RateLimit-Reset"] = str(decision.reset)
            if decision.daily_remaining is not None:
                response["DeepLens-Daily-Calls-Remaining"] = str(decision.daily_remaining)
        return response
