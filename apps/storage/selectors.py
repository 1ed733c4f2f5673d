from django.db.models import QuerySet

from apps.storage.models import StorageLocation


def storage_location_list() -> QuerySet[StorageLocation]:
    return StorageLocation.objects.order_by("-is_default", "name")
