"""Thumbnail specs and renditions: defaults, configuration, generation on demand, deletion."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.connection import connection
from apps.core.errors import InvalidInput, NotFound
from apps.core.process_cache import cached, invalidate
from apps.images import imaging
from apps.images.models import Image, Thumbnail, ThumbnailFormat, ThumbnailSpec
from apps.storage.backends import thumbnail_key, thumbnail_storage_for, thumbnail_storage_of

DEFAULT_THUMBNAIL_SPECS = (("small", 150), ("medium", 400), ("large", 1024))
MAX_SPECS = 10


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


def active_specs() -> list[ThumbnailSpec]:
    return cached(
        (connection.schema_name, "thumbnail-specs"),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: list(ThumbnailSpec.objects.filter(is_active=True).order_by("max_width", "name")),
        scope=connection.schema_name,
    )


def spec_get(name: str) -> ThumbnailSpec:
    spec = ThumbnailSpec.objects.filter(name=name, is_active=True).first()
    if spec is None:
        names = ", ".join(s.name for s in active_specs())
        raise NotFound(
            f"No thumbnail spec {name!r}; this workspace has {names}.", code="thumbnail_spec_not_found"
        )
    return spec


def thumbnail_config_validate(specs: list[dict]) -> list[str]:
    """What is wrong with a whole configuration (each spec's own fields are checked by the model)."""
    if not specs or len(specs) > MAX_SPECS:
        return [f"Give between 1 and {MAX_SPECS} thumbnail specs."]
    names = [spec["name"] for spec in specs]
    if len(set(names)) != len(names):
        return ["Spec names must be unique."]
    return []


@transaction.atomic
def thumbnail_config_update(*, specs: list[dict], actor: Actor, tenant) -> list[ThumbnailSpec]:
    """Replace the active specs with these. Specs left out are deactivated; their thumbnails stay
    until deleted or regenerated."""
    if problems := thumbnail_config_validate(specs):
        raise InvalidInput(problems[0], code="thumbnail_config_invalid")
    names = [spec["name"] for spec in specs]
    saved = []
    for data in specs:
        spec = ThumbnailSpec.objects.filter(name=data["name"]).first() or ThumbnailSpec(name=data["name"])
        for field in ("max_width", "max_height", "format", "quality"):
            setattr(spec, field, data[field])
        spec.is_active = True
        spec.full_clean()
        spec.save()
        saved.append(spec)
    ThumbnailSpec.objects.exclude(name__in=names).update(is_active=False, updated_at=timezone.now())
    # every process (web and workers) renders the new sizes from its next read once committed
    schema = connection.schema_name
    transaction.on_commit(lambda: invalidate(schema, (schema, "thumbnail-specs")))
    audit_record(
        actor=actor,
        action=AuditAction.THUMBNAILS_CHANGED,
        tenant=tenant,
        target_type="images.thumbnailspec",
        details={"thumbnail_specs": [{k: spec[k] for k in sorted(spec)} for spec in specs]},
    )
    return sorted(saved, key=lambda s: (s.max_width, s.name))


# Originals in these formats are served as they are when they already fit a spec's box.
WEB_FORMATS = {"jpeg", "png", "webp"}


def thumbnails_render(
    *, image: Image, decoded: imaging.Decoded, specs: list[ThumbnailSpec], tenant_slug: str
) -> tuple[list[Thumbnail], dict[str, imaging.Rendition]]:
    """Make and store the thumbnails of these specs; returns their rows, not yet saved, and the
    renditions. A spec whose box the original already fits, when the original is a web format that
    needs no rotation and is bare (no metadata such as GPS, nothing appended after its end), is
    served by the original itself: nothing to encode or store twice. Any other is re-encoded."""
    as_is = image.format in WEB_FORMATS and decoded.bare and decoded.exif.get("orientation", 1) == 1
    reuse = [s for s in specs if as_is and decoded.width <= s.max_width and decoded.height <= s.max_height]
    render = [s for s in specs if s not in reuse]
    rendered = (
        imaging.renditions(decoded.image, render, full_size=(decoded.width, decoded.height)) if render else {}
    )
    storage = thumbnail_storage_for(image.storage_location)
    versions = {spec.name: spec.version for spec in specs}
    rows = [
        Thumbnail(
            image=image,
            spec=spec.name,
            spec_version=spec.version,
            storage_key=image.storage_key,
            format=image.format,
            width=decoded.width,
            height=decoded.height,
            size_bytes=image.size_bytes,
        )
        for spec in reuse
    ]
    for name, rendition in rendered.items():
        key = thumbnail_key(
            tenant_slug=tenant_slug,
            spec=name,
            image_id=image.pk,
            created=image.created_at,
            fmt=rendition.format,
        )
        storage.save(key, ContentFile(rendition.data))
        rows.append(
            Thumbnail(
                image=image,
                spec=name,
                spec_version=versions[name],
                storage_key=key,
                format=rendition.format,
                width=rendition.width,
                height=rendition.height,
                size_bytes=len(rendition.data),
            )
        )
    return rows, rendered


def thumbnails_record(rows: list[Thumbnail]) -> list[Thumbnail]:
    """One upsert for all of an image's thumbnail rows."""
    return Thumbnail.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["image", "spec"],
        update_fields=[
            "spec_version",
            "storage_key",
            "format",
            "width",
            "height",
            "size_bytes",
            "created_at",
        ],
    )


def thumbnail_ensure(*, image: Image, spec: ThumbnailSpec, tenant_slug: str) -> Thumbnail:
    """The image's thumbnail for this spec, made now if it is missing or of an older spec."""
    thumbnail = image.thumbnails.filter(spec=spec.name, spec_version=spec.version).first()
    if thumbnail is not None and thumbnail_storage_of(
        image.storage_location, key=thumbnail.storage_key, original_key=image.storage_key
    ).exists(thumbnail.storage_key):
        return thumbnail
    return thumbnails_generate(image=image, specs=[spec], tenant_slug=tenant_slug)[0]


def thumbnails_generate(*, image: Image, specs: list[ThumbnailSpec], tenant_slug: str) -> list[Thumbnail]:
    from apps.images.originals import decode_original

    decoded = decode_original(image, longest_needed=max(max(s.max_width, s.max_height) for s in specs))
    rows, _rendered = thumbnails_render(image=image, decoded=decoded, specs=specs, tenant_slug=tenant_slug)
    with transaction.atomic():
        written = thumbnails_record(rows)
        Image.objects.filter(pk=image.pk).update(thumbnails_at=timezone.now())
    return written


@transaction.atomic
def thumbnail_delete(*, image: Image, spec_name: str) -> bool:
    thumbnail = image.thumbnails.filter(spec=spec_name).first()
    if thumbnail is None:
        return False
    if thumbnail.storage_key != image.storage_key:  # never the original it may stand for
        thumbnail_storage_for(image.storage_location).delete(thumbnail.storage_key)
    thumbnail.delete()
    return True
