"""Writes of the images domain: ingestion, the processing pipeline, thumbnails, lifecycle."""

from apps.images.services.ingest import image_enqueue, image_ingest, sanitize_filename
from apps.images.services.lifecycle import (
    image_delete,
    image_purge,
    image_restore,
    image_retry,
    images_purge_expired,
)
from apps.images.services.processing import (
    image_mark_failed,
    image_process,
    image_settings_get,
    images_process,
)
from apps.images.services.thumbnails import (
    active_specs,
    spec_get,
    thumbnail_config_update,
    thumbnail_delete,
    thumbnail_ensure,
    thumbnail_specs_create_defaults,
    thumbnails_generate,
)
from apps.images.services.usage import storage_used_bytes, usage_reconcile

__all__ = [
    "active_specs",
    "image_delete",
    "image_enqueue",
    "image_ingest",
    "image_mark_failed",
    "image_process",
    "image_purge",
    "image_restore",
    "image_retry",
    "image_settings_get",
    "images_process",
    "images_purge_expired",
    "sanitize_filename",
    "spec_get",
    "storage_used_bytes",
    "thumbnail_config_update",
    "thumbnail_delete",
    "thumbnail_ensure",
    "thumbnail_specs_create_defaults",
    "thumbnails_generate",
    "usage_reconcile",
]
