"""GET /api/schema/ (OpenAPI 3, YAML or ?format=json) and /api/docs/ (Swagger UI, served from the
installed drf-spectacular-sidecar: no CDN). Public: the document describes, it grants nothing."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.permissions import PUBLIC


class SchemaApi(SpectacularAPIView):
    required_permission = PUBLIC
    urlconf = "deeplens.urls_schema"
    throttle_classes: list = []


class SwaggerPage(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file (?script=), as the CSP wants."""

    required_permission = PUBLIC
    throttle_classes: list = []
    url_name = "api-schema"
