"""GET /api/schema/ (OpenAPI 3, YAML or ?format=json) and /api/docs/ (Swagger UI, served from the
installed drf-spectacular-sidecar: no CDN). Public: the document describes, it grants nothing."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts.permissions import PUBLIC


class SchemaApi(SpectacularAPIView):
    required_permission = PUBLIC
    urlconf = "deeplens.urls_schema"
    throttle_classes: list = []


class SwaggerPage(SpectacularSwaggerView):
    required_permission = PUBLIC
    throttle_classes: list = []
    url_name = "api-schema"
