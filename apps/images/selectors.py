from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.images.models import Image, ImageStage, ImageStatus, StageState, Thumbnail, ThumbnailSpec

ORDERINGS = {
    "created_at",
    "-created_at",
    "size_bytes",
    "-size_bytes",
    "taken_at",
    "-taken_at",
    "original_filename",
    "-original_filename",
}


def thumbnail_spec_list() -> QuerySet[ThumbnailSpec]:
    return ThumbnailSpec.objects.filter(is_active=True).order_by("max_width", "name")


def _images() -> QuerySet[Image]:
    return Image.objects.select_related("storage_location", "uploaded_by").prefetch_related(
        Prefetch("thumbnails", queryset=Thumbnail.objects.order_by("width"))
    )


def image_list(
    *,
    deleted: bool = False,
    status: str = "",
    formats: list[str] | None = None,
    tags: list[str] | None = None,
    uploaded_after: datetime | None = None,
    uploaded_before: datetime | None = None,
    taken_after: datetime | None = None,
    taken_before: datetime | None = None,
    min_bytes: int | None = None,
    max_bytes: int | None = None,
    min_width: int | None = None,
    min_height: int | None = None,
    max_width: int | None = None,
    max_height: int | None = None,
    storage_location=None,
    q: str = "",
    sha256: str = "",
    ordering: str = "-created_at",
) -> QuerySet[Image]:
    images = _images().filter(deleted_at__isnull=not deleted)
    filters = {
        "status": status or None,
        "format__in": formats or None,
        "tags__contains": tags or None,
        "created_at__gte": uploaded_after,
        "created_at__lt": uploaded_before,
        "taken_at__gte": taken_after,
        "taken_at__lt": taken_before,
        "size_bytes__gte": min_bytes,
        "size_bytes__lte": max_bytes,
        "width__gte": min_width,
        "height__gte": min_height,
        "width__lte": max_width,
        "height__lte": max_height,
        "storage_location": storage_location,
        "original_filename__icontains": q or None,
        "sha256": sha256 or None,
    }
    images = images.filter(**{key: value for key, value in filters.items() if value is not None})
    return images.order_by(ordering if ordering in ORDERINGS else "-created_at", "-id")


def image_get(*, image_id, include_deleted: bool = True) -> Image | None:
    images = _images().filter(pk=image_id)
    if not include_deleted:
        images = images.filter(deleted_at__isnull=True)
    return images.first()


def images_by_ids(*, ids: list) -> list[Image]:
    found = {image.pk: image for image in _images().filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def image_counts() -> dict[str, int]:
    """Images by state, for the dashboard (one query)."""
    return Image.objects.aggregate(
        total=Count("id", filter=Q(deleted_at__isnull=True)),
        ready=Count("id", filter=Q(deleted_at__isnull=True, status=ImageStatus.READY)),
        waiting=Count(
            "id", filter=Q(deleted_at__isnull=True, status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING])
        ),
        failed=Count("id", filter=Q(deleted_at__isnull=True, status=ImageStatus.FAILED)),
        trash=Count("id", filter=Q(deleted_at__isnull=False)),
    )


def images_stage_summary(images: list[Image]) -> list[Image]:
    """Sets `later_state` on each image of a page: "indexing" while a ready image is not yet
    searchable and checked, "failed" when a later stage failed, "" when all is done. One query."""
    ids = [image.pk for image in images if image.status == ImageStatus.READY]
    rows: dict = {}
    for image_id, stage, state in ImageStage.objects.filter(
        image_id__in=ids, stage__in=["index", "detect"]
    ).values_list("image_id", "stage", "state"):
        rows.setdefault(image_id, {})[stage] = state
    for image in images:
        states = rows.get(image.pk, {})
        if image.status != ImageStatus.READY:
            image.later_state = ""
        elif StageState.FAILED in states.values():
            image.later_state = "failed"
        elif states.get("index") != StageState.DONE or states.get("detect") != StageState.DONE:
            image.later_state = "indexing"
        else:
            image.later_state = ""
    return images
