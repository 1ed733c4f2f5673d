"""Dependency outages answer 503 with Retry-After and a code naming the dependency, never a bare 500.

PostgreSQL (`database_unavailable`), the Celery broker (`broker_unavailable`) and Redis
(`redis_unavailable`) are told apart by the exception, or by what it was raised from (Django wraps
psycopg's errors, kombu wraps redis-py's). The API's exception handler answers JSON in the house
error shape; every other path (pages, and errors raised in middleware before any view, such as the
tenant lookup or the session) reaches Django's handler500, which asks `outage_response`.

Rate limiting counts in Redis and fails open: while Redis is down requests are let through and a
warning is logged (apps/usage/ratelimit.py), so that a cache outage does not take the API down.
"""

import logging
import sys
from collections.abc import Iterator

import kombu.exceptions
import psycopg
import redis
from django import db
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

from apps.core.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

_DATABASE_ERRORS = (db.OperationalError, db.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
_REDIS_ERRORS = (redis.ConnectionError, redis.TimeoutError)
# What to catch where a dependency outage must be told from other failures (then `dependency_unavailable`).
DEPENDENCY_ERRORS = (db.DatabaseError, psycopg.Error, redis.RedisError, kombu.exceptions.OperationalError)

MESSAGES = {
    "database_unavailable": "The database cannot be reached right now. Try again shortly.",
    "broker_unavailable": "The task queue cannot be reached right now. Try again shortly.",
    "redis_unavailable": "The cache (Redis) cannot be reached right now. Try again shortly.",
}


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def dependency_of(exc: BaseException) -> str | None:
    """`database`, `broker` or `redis` when the exception (or one it was raised from) is that
    dependency being unreachable; None for anything else."""
    for link in _chain(exc):
        if isinstance(link, _DATABASE_ERRORS):
            return "database"
        if isinstance(link, kombu.exceptions.OperationalError):
            return "broker"
        if isinstance(link, _REDIS_ERRORS):
            return "redis"
    return None


def dependency_unavailable(exc: BaseException) -> DependencyUnavailable | None:
    """The 503 error to answer for this exception, or None when it is no dependency outage."""
    dependency = dependency_of(exc)
    if dependency is None:
        return None
    code = f"{dependency}_unavailable"
    retry_after = settings.DEEPLENS_OUTAGE_RETRY_AFTER_SECONDS
    logger.warning("%s: %s: %s", code, type(exc).__name__, exc)
    return DependencyUnavailable(
        MESSAGES[code], code=code, extra={"dependency": dependency, "retry_after": retry_after}
    )


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def outage_response(request, error: DependencyUnavailable) -> HttpResponse:
    """JSON for the API (and clients that ask for it), the error page otherwise; rendered without
    the request's context processors, which would read the session and the user from the database."""
    if _wants_json(request):
        response: HttpResponse = JsonResponse(error.as_dict(), status=error.http_status)
    else:
        page = render_to_string(
            "errors/error.html",
            {"title": "Temporarily unavailable", "message": error.message, "code": error.code, "status": 503},
        )
        response = HttpResponse(page, status=error.http_status)
    response["Retry-After"] = str(error.extra["retry_after"])
    return response


def current_outage_response(request) -> HttpResponse | None:
    """For handler500: the 503 to answer if the exception being handled is a dependency outage."""
    exc = sys.exc_info()[1]
    error = dependency_unavailable(exc) if exc is not None else None
    return outage_response(request, error) if error is not None else None
