from django.db import transaction

from apps.images.models import ThumbnailFormat, ThumbnailSpec

DEFAULT_THUMBNAIL_SPECS = (
    ("small", 150),
    ("medium", 400),
    ("large", 1024),
)


@transaction.atomic
def thumbnail_specs_create_defaults() -> list[ThumbnailSpec]:
    """small 150, medium 400, large 1024, WebP q80; existing specs of those names are kept."""
    specs = []
    for name, size in DEFAULT_THUMBNAIL_SPECS:
        spec = ThumbnailSpec.objects.filter(name=name).first()
        if spec is None:
            spec = ThumbnailSpec(
                name=name, max_width=size, max_height=size, format=ThumbnailFormat.WEBP, quality=80
            )
            spec.full_clean()
            spec.save()
        specs.append(spec)
    return specs
