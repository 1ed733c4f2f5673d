from apps.core.errors import ApplicationError, Conflict, InvalidInput, NotFound, ServiceUnavailable


class ModelUnavailable(Conflict):
    """The model cannot run here (no weights configured, torch missing) or is not switched on."""

    code = "model_unavailable"


class ImageNotIndexed(Conflict):
    """The query image has no embedding for this model yet (still processing, or being re-embedded)."""

    code = "image_not_indexed"


class QueryImageNotFound(NotFound):
    code = "image_not_found"


class InvalidQueryImage(ApplicationError):
    http_status = 415
    code = "unsupported_media_type"


class InvalidSearch(InvalidInput):
    code = "invalid_search"


class EmbedderTimeout(ServiceUnavailable):
    code = "embedder_timeout"


class QueryExpired(ApplicationError):
    """The search page's kept query image has expired (or was never kept for this user)."""

    http_status = 410
    code = "query_expired"
