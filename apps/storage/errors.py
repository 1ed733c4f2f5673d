from apps.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied


class StorageConfigInvalid(InvalidInput):
    code = "storage_config_invalid"


class StorageEndpointRefused(StorageConfigInvalid):
    """An endpoint DeepLens does not connect to for tenants, or cannot reach: one code for both, so
    the answers do not tell internal hosts and ports apart (apps/storage/endpoints.py)."""

    code = "storage_endpoint_not_allowed"


class StoragePathForbidden(PermissionDenied):
    """A filesystem path outside the roots the global admin allows (DEEPLENS_FS_ROOTS)."""

    code = "storage_path_forbidden"


class StorageCheckFailed(InvalidInput):
    """The location cannot be reached as configured; the code names the problem:
    storage_credentials_invalid, storage_bucket_not_found, storage_endpoint_not_allowed (not allowed or
    not reachable), storage_not_writable, storage_path_not_found."""

    code = "storage_check_failed"


class StorageLocationNotFound(NotFound):
    code = "storage_location_not_found"


class StorageLocationInUse(Conflict):
    code = "storage_location_in_use"


class StorageJobConflict(Conflict):
    code = "storage_job_conflict"


class StorageJobNotFound(NotFound):
    code = "storage_job_not_found"
