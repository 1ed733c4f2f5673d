from apps.storage.services.locations import (
    storage_location_ambient_set,
    storage_location_create,
    storage_location_create_default,
    storage_location_delete,
    storage_location_set_default,
    storage_location_test,
)

__all__ = [
    "storage_location_ambient_set",
    "storage_location_create",
    "storage_location_create_default",
    "storage_location_delete",
    "storage_location_set_default",
    "storage_location_test",
]
