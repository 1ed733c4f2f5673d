"""The processing pipeline of one image: decode once (EXIF orientation applied) -> thumbnails ->
perceptual hashes. Each stage records when it finished and is skipped when already done, so a
retried task repeats nothing; a terminal failure records the stage and a reason people can read."""

import logging

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core.process_cache import cached
from apps.images import imaging
from apps.images.errors import TransientProcessingError
from apps.images.models import Image, ImageSettings, ImageStatus, Stage
from apps.images.services.thumbnails import active_specs, thumbnails_record, thumbnails_render
from apps.storage.backends import StorageNotSupported, storage_for

logger = logging.getLogger(__name__)


def image_settings_get() -> ImageSettings:
    return cached(
        (connection.schema_name, "image-settings"),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: ImageSettings.objects.first() or ImageSettings.objects.create(),
    )


def decode_original(image: Image, *, longest_needed: int, keep_gps: bool = True) -> imaging.Decoded:
    try:
        with storage_for(image.storage_location).open(image.storage_key, "rb") as original:
            return imaging.decode(original, longest_needed=longest_needed, keep_gps=keep_gps)
    except FileNotFoundError as exc:
        raise imaging.CorruptImage("the original file is missing from storage") from exc


def image_process(*, image_id, tenant_slug: str) -> Image | None:
    image = Image.objects.select_related("storage_location").filter(pk=image_id).first()
    if image is None or image.deleted_at is not None:
        logger.info("image %s is gone or deleted; nothing to process", image_id)
        return None
    if image.status == ImageStatus.READY:
        return image
    Image.objects.filter(pk=image.pk).update(
        status=ImageStatus.PROCESSING,
        failed_stage="",
        failure_reason="",
        processing_started_at=timezone.now(),
        attempts=F("attempts") + 1,
    )
    specs = active_specs()
    policy = image_settings_get()
    stage = Stage.DECODE
    fields: dict = {}
    try:
        longest = max([max(s.max_width, s.max_height) for s in specs] + [imaging.HASH_SIDE])
        decoded = decode_original(image, longest_needed=longest, keep_gps=policy.keep_gps)
        taken = decoded.exif.get("taken_at")
        camera = " ".join(filter(None, (decoded.exif.get("make"), decoded.exif.get("model"))))
        fields.update(
            width=decoded.width,
            height=decoded.height,
            exif=decoded.exif,
            taken_at=parse_datetime(taken) if taken else None,
            camera=camera[:200],
            decoded_at=timezone.now(),
        )

        stage = Stage.THUMBNAILS
        current = {t.spec: t.spec_version for t in image.thumbnails.all()} if image.thumbnails_at else {}
        missing = [spec for spec in specs if current.get(spec.name) != spec.version]
        rows, rendered = [], {}
        if missing:
            rows, rendered = thumbnails_render(
                image=image, decoded=decoded, specs=missing, tenant_slug=tenant_slug
            )
        fields["thumbnails_at"] = (
            image.thumbnails_at if not missing and image.thumbnails_at else timezone.now()
        )

        stage = Stage.HASHES
        if image.hashed_at is None:
            source = imaging.hash_source(decoded.image, rendered)
            fields["phash"], fields["dhash"], fields["whash"] = imaging.perceptual_hashes(source)
            fields["hashed_at"] = timezone.now()
    except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels) as exc:
        return image_mark_failed(image=image, stage=stage, reason=_reason(exc), fields=fields)
    except StorageNotSupported as exc:
        return image_mark_failed(image=image, stage=stage, reason=exc.message, fields=fields)
    except (OSError, DatabaseError) as exc:
        raise TransientProcessingError(f"{stage}: {exc}") from exc

    fields.update(status=ImageStatus.READY, processed_at=timezone.now(), failed_stage="", failure_reason="")
    with transaction.atomic():
        thumbnails_record(rows)
        Image.objects.filter(pk=image.pk).update(**fields)
    return image


def _reason(exc: Exception) -> str:
    if isinstance(exc, imaging.TooManyPixels):
        return f"The image is too large to process: {exc}."
    if isinstance(exc, imaging.NotAnImage):
        return "The file is not an image this installation can read."
    return f"The image could not be decoded: {exc}."[:500]


@transaction.atomic
def image_mark_failed(*, image: Image, stage: str, reason: str, fields: dict | None = None) -> Image:
    update = {
        key: value
        for key, value in (fields or {}).items()
        if key.endswith("_at") or key in ("width", "height")
    }
    Image.objects.filter(pk=image.pk).update(
        status=ImageStatus.FAILED, failed_stage=stage, failure_reason=reason[:500], **update
    )
    logger.warning("image %s failed at %s: %s", image.pk, stage, reason)
    image.refresh_from_db()
    return image
