"""The one way DeepLens reads and writes files: a Django Storage per storage location.

Keys are relative to the location and start with the tenant's slug:
    {tenant}/images/{yyyy}/{mm}/{image_id}.{ext}
    {tenant}/thumbnails/{spec}/{yyyy}/{mm}/{image_id}.{fmt}
"""

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from django.core.files.storage import FileSystemStorage, Storage

from apps.core.errors import ServiceUnavailable
from apps.storage.models import StorageLocation, StorageProvider


class StorageNotSupported(ServiceUnavailable):
    code = "storage_provider_unavailable"


@lru_cache(maxsize=256)
def _filesystem(root: str) -> FileSystemStorage:
    Path(root).mkdir(parents=True, exist_ok=True)
    return FileSystemStorage(location=root, allow_overwrite=True)


def storage_for(location: StorageLocation) -> Storage:
    if location.provider == StorageProvider.FILESYSTEM:
        return _filesystem(location.config["root"])
    raise StorageNotSupported(
        f"The storage location {location.name!r} uses {location.get_provider_display()}, which this "
        "installation cannot reach.",
        extra={"provider": location.provider},
    )


def original_key(*, tenant_slug: str, image_id, created: datetime, ext: str) -> str:
    return f"{tenant_slug}/images/{created:%Y}/{created:%m}/{image_id}.{ext}"


def thumbnail_key(*, tenant_slug: str, spec: str, image_id, created: datetime, fmt: str) -> str:
    return f"{tenant_slug}/thumbnails/{spec}/{created:%Y}/{created:%m}/{image_id}.{fmt}"
