from apps.core.errors import ApplicationError, Conflict, InvalidInput, NotFound


class EmptyFile(InvalidInput):
    code = "empty_file"


class FileTooLarge(ApplicationError):
    http_status = 413
    code = "file_too_large"


class QuotaExceeded(ApplicationError):
    http_status = 413
    code = "quota_exceeded"


class UnsupportedMediaType(ApplicationError):
    http_status = 415
    code = "unsupported_media_type"


class ImageTooLarge(ApplicationError):
    """More pixels than the configured limit (a decompression bomb, or simply too big)."""

    http_status = 422
    code = "image_too_many_pixels"


class ImageNotFound(NotFound):
    code = "image_not_found"


class IdenticalUploadRefused(Conflict):
    """The bytes are already in the workspace, and the tenant refuses identical uploads."""

    code = "identical_upload_refused"


class ImageNotRetryable(Conflict):
    code = "image_not_failed"


class UrlNotAllowed(InvalidInput):
    code = "url_not_allowed"


class UrlFetchFailed(ApplicationError):
    http_status = 422
    code = "url_fetch_failed"


class UrlFetchBusy(ApplicationError):
    """As many URL fetches as allowed are running (for the tenant, or in this web process)."""

    http_status = 429
    code = "url_fetch_busy"


class TransientProcessingError(Exception):
    """Storage or database hiccup while processing: the task retries with backoff."""

    def __init__(self, message: str, *, stage: str = "", image_ids: list[str] | None = None):
        super().__init__(message)
        self.stage = stage or message.split(":", 1)[0]
        self.image_ids = image_ids or []


class IdempotencyKeyReused(ApplicationError):
    http_status = 422
    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class IdempotencyKeyInvalid(InvalidInput):
    code = "idempotency_key_invalid"
