"""OpenAPI for the API (drf-spectacular): request bodies from each view's `Input` serializer, the
error shape and its status codes on every operation, and helpers for the responses views declare
with `@extend_schema(responses=...)`."""

from drf_spectacular.drainage import set_override
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers

WRITE_METHODS = ("POST", "PUT", "PATCH")


class ErrorBody(serializers.Serializer):
    code = serializers.CharField(help_text="A stable code for programs, e.g. quota_exceeded.")
    message = serializers.CharField(help_text="What went wrong, for people.")
    detail = serializers.JSONField(help_text="Field errors or details; {} when there are none.")


class ErrorResponse(serializers.Serializer):
    error = ErrorBody()


# On every operation; writes also document 409 (the state forbids it now: a job already running, a
# quota reached, a name taken) and 415 (a body in a media type the operation does not read).
ERRORS = {
    400: ErrorResponse,
    401: ErrorResponse,
    403: ErrorResponse,
    404: ErrorResponse,
    429: ErrorResponse,
}


def paginated(serializer, name: str):
    """The limit/offset page every list endpoint answers with: one page object, never an array of
    them (many=False: list views are marked as lists for their operation ids only)."""
    page = inline_serializer(
        name=name,
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )
    return set_override(page, "many", False)


class DeepLensAutoSchema(AutoSchema):
    def get_request_serializer(self):
        # Views are APIViews with an `Input` serializer; @extend_schema(request=...) overrides this.
        if self.method in WRITE_METHODS:
            return getattr(self.view, "Input", None)
        return None

    def get_response_serializers(self):
        # Declared with @extend_schema(responses=...); without it, the operation shows no body and
        # tests/core/test_openapi.py fails.
        return None

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        explicit = type(self).get_request_serializer is not DeepLensAutoSchema.get_request_serializer
        if operation and self.method in WRITE_METHODS and "requestBody" not in operation and explicit:
            operation["x-no-body"] = True  # declared with @extend_schema(request=None)
        return operation

    def _is_list_view(self, serializer=None):
        handler = getattr(self.view, self.method.lower(), None)
        return bool(getattr(handler, "deeplens_list", False))

    def get_serializer_name(self, serializer, direction):
        # Views nest their serializers as Input / Output / Filters: name them after the view.
        name = super().get_serializer_name(serializer, direction)
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        if cls.__name__ in ("Input", "Output", "Filters") and "." in cls.__qualname__:
            name = cls.__qualname__.split(".")[0].removesuffix("Api") + name
        return name

    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        filters = getattr(self.view, "Filters", None)
        if self.method == "GET" and filters is not None:
            params.append(filters)
        return params

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = {**ERRORS, **({409: ErrorResponse} if self.method in (*WRITE_METHODS, "DELETE") else {})}
        if self.method in WRITE_METHODS:
            errors[415] = ErrorResponse  # a body in a media type the operation does not take
        for code, serializer in errors.items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(serializer, str(code), direction=direction)
        if self.method == "DELETE" and "200" in responses and not responses["200"].get("content"):
            responses["204"] = {"description": "Done; no body."}
            del responses["200"]
        return responses


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.BearerTokenAuthentication"
    name = "Bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key dl_<prefix>_<secret>`",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.CsrfSessionAuthentication"
    name = "Session"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description="Page size (default 50, at most 500)."),
    OpenApiParameter("offset", int, description="How many results to skip."),
]


def list_schema(serializer, name: str, **kwargs):
    """@extend_schema for a paginated list endpoint."""
    parameters = [*PAGE_PARAMETERS, *kwargs.pop("parameters", [])]
    decorate = extend_schema(responses={200: paginated(serializer, name)}, parameters=parameters, **kwargs)

    def mark(method):
        method = decorate(method)
        method.deeplens_list = True  # named *_list in the document
        return method

    return mark
