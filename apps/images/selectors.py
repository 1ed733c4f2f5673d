from django.db.models import QuerySet

from apps.images.models import ThumbnailSpec


def thumbnail_spec_list() -> QuerySet[ThumbnailSpec]:
    return ThumbnailSpec.objects.order_by("max_width", "name")
