from apps.duplicates.services.detection import image_detect, lookup
from apps.duplicates.services.groups import duplicate_settings_get, group_refresh
from apps.duplicates.services.jobs import duplicates_job_create
from apps.duplicates.services.policy import duplicate_settings_update
from apps.duplicates.services.review import (
    group_dismiss,
    group_resolve,
    image_groups_refresh,
    report,
    resolve_all_preview,
)

__all__ = [
    "duplicate_settings_get",
    "duplicate_settings_update",
    "duplicates_job_create",
    "group_dismiss",
    "group_refresh",
    "group_resolve",
    "image_detect",
    "image_groups_refresh",
    "lookup",
    "report",
    "resolve_all_preview",
]
