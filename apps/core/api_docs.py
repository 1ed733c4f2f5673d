"""GET /api/schema/ (OpenAPI 3, YAML or ?format=json) and /api/docs/ (Swagger UI, served from the
installed drf-spectacular-sidecar: no CDN). Public: the document describes, it grants nothing."""

from drf_spectacular.renderers import OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.permissions import PUBLIC


class SchemaApi(SpectacularAPIView):
    required_permission = PUBLIC
    urlconf = "deeplens.urls_schema"
    throttle_classes: list = []

    def perform_content_negotiation(self, request, force=False):
        # The project turns DRF's ?format= override off (lists filter on a `format` field), so the
        # document's own ?format=json|yaml is read here; otherwise the Accept header decides.
        renderer = {"json": OpenApiJsonRenderer2, "yaml": OpenApiYamlRenderer}.get(
            request.query_params.get("format", "")
        )
        if renderer is not None:
            return renderer(), renderer.media_type
        return super().perform_content_negotiation(request, force)


class SwaggerPage(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file (?script=), as the CSP wants."""

    required_permission = PUBLIC
    throttle_classes: list = []
    url_name = "api-schema"
