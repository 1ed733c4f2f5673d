from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.core.filtering import FilterData, apply_filters
from apps.images.filters import DEFAULT_ORDERING, ImageFilter
from apps.images.models import (
    Image,
    ImageSettings,
    ImageStage,
    ImageStatus,
    StageState,
    Thumbnail,
    ThumbnailSpec,
)


def thumbnail_spec_list() -> QuerySet[ThumbnailSpec]:
    return ThumbnailSpec.objects.filter(is_active=True).order_by("max_width", "name")


def _images() -> QuerySet[Image]:
    return Image.objects.select_related("storage_location", "uploaded_by").prefetch_related(
        Prefetch("thumbnails", queryset=Thumbnail.objects.order_by("width"))
    )


def image_list(
    *, filters: FilterData | None = None, deleted: bool = False, status: str = ""
) -> QuerySet[Image]:
    """Live images (or the trash), newest first, narrowed by the query parameters of ImageFilter;
    raises InvalidFilter for a value that does not parse."""
    images = _images().filter(deleted_at__isnull=not deleted)
    if status:
        images = images.filter(status=status)
    return apply_filters(ImageFilter, filters, images.order_by(DEFAULT_ORDERING, "-id"))


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


@dataclass(frozen=True)
class GalleryTile:
    """An image of a gallery page and the state of its stages after processing."""

    image: Image
    later_state: str
    # False for an image in the trash the viewer may not restore (its thumbnail is refused too)
    may_preview: bool = True


def images_stage_summary(images: list[Image]) -> list[GalleryTile]:
    """Each image of a page with its `later_state`: "indexing" while a ready image is not yet
    searchable and checked, "failed" when a later stage failed, "" when all is done. One query."""
    ids = [image.pk for image in images if image.status == ImageStatus.READY]
    rows: dict = {}
    for image_id, stage, state in ImageStage.objects.filter(
        image_id__in=ids, stage__in=["index", "detect"]
    ).values_list("image_id", "stage", "state"):
        rows.setdefault(image_id, {})[stage] = state
    tiles = []
    for image in images:
        states = rows.get(image.pk, {})
        if image.status != ImageStatus.READY:
            later_state = ""
        elif StageState.FAILED in states.values():
            later_state = "failed"
        elif states.get("index") != StageState.DONE or states.get("detect") != StageState.DONE:
            later_state = "indexing"
        else:
            later_state = ""
        tiles.append(GalleryTile(image=image, later_state=later_state))
    return tiles


def image_settings_current() -> ImageSettings:
    """The image policy as stored now (not the per-process cached copy the pipeline reads)."""
    return ImageSettings.objects.first() or ImageSettings()
