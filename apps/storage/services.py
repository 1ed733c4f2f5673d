from django.conf import settings
from django.db import transaction

from apps.storage.models import StorageLocation, StorageProvider

DEFAULT_LOCATION_NAME = "Local files"


@transaction.atomic
def storage_location_create_default() -> StorageLocation:
    """The tenant's default filesystem location under DEEPLENS_MEDIA_ROOT (idempotent).

    Keys written there start with the tenant's slug ({tenant}/images/...), so tenants sharing the
    root never share a path.
    """
    existing = StorageLocation.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    location = StorageLocation(
        name=DEFAULT_LOCATION_NAME,
        provider=StorageProvider.FILESYSTEM,
        config={"root": str(settings.DEEPLENS_MEDIA_ROOT)},
        is_default=True,
    )
    location.full_clean()
    location.save()
    return location
