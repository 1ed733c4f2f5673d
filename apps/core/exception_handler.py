"""DRF exception handler: every API error becomes {"error": {"code", "message", "detail"}}; an
unreachable PostgreSQL or Redis becomes a 503 with Retry-After (apps/core/outages.py)."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.errors import ApplicationError
from apps.core.outages import dependency_unavailable


def _drf_code(exc: drf_exceptions.APIException) -> str:
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    return "invalid_input" if isinstance(exc, drf_exceptions.ValidationError) else exc.default_code


def api_exception_handler(exc, context):
    exc = dependency_unavailable(exc) or exc
    if isinstance(exc, ApplicationError):
        error_response = Response(exc.as_dict(), status=exc.http_status)
        if "retry_after" in exc.extra:
            error_response["Retry-After"] = str(exc.extra["retry_after"])
        return error_response

    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = drf_exceptions.ValidationError(detail=detail)
    elif isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, drf_exceptions.ValidationError):
        message, detail = "The request is not valid.", response.data
    else:
        message, detail = str(exc.detail), {}
    response.data = {"error": {"code": _drf_code(exc), "message": message, "detail": detail}}
    return response
