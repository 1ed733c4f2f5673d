"""The `process` stage (apps/images/pipeline.py) of one image: decode once (EXIF orientation
applied) -> thumbnails -> perceptual hashes from the small rendition. Each step records when it
finished and is skipped when already done, so a retried task repeats nothing; a terminal failure
records the step and a reason people can read. READY images go on to the later stages through
`pipeline.images_ready()`."""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core import queueing, workers
from apps.core.connection import connection
from apps.core.metrics import StageClock, image_outcome_record
from apps.core.process_cache import cached
from apps.images import imaging, pipeline
from apps.images.errors import TransientProcessingError
from apps.images.models import Image, ImageSettings, ImageStatus, Stage
from apps.images.originals import decode_original
from apps.images.raw import RAW_FORMATS
from apps.images.services.thumbnails import active_specs, thumbnails_record, thumbnails_render
from apps.storage.backends import StorageNotSupported
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_emit, webhook_emit_many

logger = logging.getLogger(__name__)


def image_settings_get() -> ImageSettings:
    return cached(
        (connection.schema_name, "image-settings"),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: ImageSettings.objects.first() or ImageSettings.objects.create(),
        scope=connection.schema_name,
    )


# The rows are picked in a MATERIALIZED CTE: evaluated exactly once, so the UPDATE takes exactly
# the rows it locked (a `WHERE id IN (SELECT ... LIMIT ... SKIP LOCKED)` may be re-run by the planner
# and take more or fewer rows than the limit).
CLAIM_SQL = """
WITH picked AS MATERIALIZED (
    SELECT id FROM {table}
    WHERE deleted_at IS NULL
      AND (status = 'pending' OR (status = 'processing' AND processing_started_at < %s))
    ORDER BY (id = %s::uuid) IS TRUE DESC, created_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED)
UPDATE {table} AS image
SET status = 'processing', processing_started_at = now(), attempts = image.attempts + 1,
    failed_stage = '', failure_reason = '', claimed_by = %s
FROM picked WHERE image.id = picked.id
RETURNING image.id
"""
# A batch is processed in seconds: an image "processing" for this long lost its worker (a worker whose
# heartbeat stopped loses its claims sooner: services/stages.py).
STALE_AFTER = timedelta(minutes=3)
RESULT_FIELDS = [
    "processing_started_at",
    "format",
    "content_type",
    "claimed_by",
    "sha256",
    "size_bytes",
    "status",
    "failed_stage",
    "failure_reason",
    "width",
    "height",
    "exif",
    "taken_at",
    "camera",
    "decoded_at",
    "thumbnails_at",
    "phash",
    "dhash",
    "whash",
    "hashed_at",
    "processed_at",
]


@dataclass
class Outcome:
    image: Image
    thumbnails: list = field(default_factory=list)


def images_claim(*, first_id, limit: int) -> list[Image]:
    """Take this image and up to `limit - 1` other waiting ones, in one statement; rows another
    worker holds are skipped, so concurrent workers never process the same image."""
    with connection.cursor() as cursor:
        cursor.execute(
            CLAIM_SQL.format(table=Image._meta.db_table),
            [timezone.now() - STALE_AFTER, str(first_id) if first_id else None, limit, workers.identity()],
        )
        ids = [row[0] for row in cursor.fetchall()]
    images = list(Image.objects.select_related("storage_location").filter(pk__in=ids)) if ids else []
    return sorted(images, key=lambda image: (str(image.pk) != str(first_id), image.created_at))


def images_process(*, image_id, tenant_slug: str, limit: int = 1) -> list[Image]:
    """Process the image and, with `limit` > 1, other waiting images with it; all results are
    written in one transaction. Terminal failures are recorded per image; a transient one puts its
    image back in the queue and raises TransientProcessingError (the task retries)."""
    claimed = images_claim(first_id=image_id, limit=limit)
    if not claimed:
        logger.info("image %s is gone, deleted, done or being processed elsewhere", image_id)
        return []
    specs, policy = active_specs(), image_settings_get()
    outcomes, transient = [], []
    for image in claimed:
        try:
            outcomes.append(
                _pipeline(image=image, specs=specs, keep_gps=policy.keep_gps, tenant_slug=tenant_slug)
            )
        except TransientProcessingError as exc:
            transient.append((image, exc))
    with transaction.atomic():
        thumbnails_record([row for outcome in outcomes for row in outcome.thumbnails])
        Image.objects.bulk_update([outcome.image for outcome in outcomes], RESULT_FIELDS)
        pipeline.images_ready([o.image.pk for o in outcomes if o.image.status == ImageStatus.READY])
        for status, event in (
            (ImageStatus.READY, WebhookEvent.IMAGE_READY),
            (ImageStatus.FAILED, WebhookEvent.IMAGE_FAILED),
        ):
            webhook_emit_many(
                event=event,
                items=[_image_event(o.image) for o in outcomes if o.image.status == status],
            )
    for outcome in outcomes:
        image_outcome_record(status=outcome.image.status, failed_stage=outcome.image.failed_stage)
    if transient:
        Image.objects.filter(pk__in=[image.pk for image, _exc in transient]).update(
            status=ImageStatus.PENDING, claimed_by=""
        )
        raise TransientProcessingError(
            str(transient[0][1]), image_ids=[str(image.pk) for image, _e in transient]
        )
    return [outcome.image for outcome in outcomes]


def image_process(*, image_id, tenant_slug: str) -> Image | None:
    """Process one image (operator commands, tests); None when there was nothing to do."""
    processed = images_process(image_id=image_id, tenant_slug=tenant_slug, limit=1)
    return next((image for image in processed if str(image.pk) == str(image_id)), None)


def _pipeline(*, image: Image, specs, keep_gps: bool, tenant_slug: str) -> Outcome:
    """Decode once -> thumbnails -> hashes, on the in-memory row; nothing is written to the database."""
    outcome = Outcome(image=image)
    image.claimed_by = ""  # released with the result
    image.processing_started_at = timezone.now()  # this image's own start, within its batch
    clock = StageClock(image_id=str(image.pk))  # metrics and trace spans per stage
    stage = Stage.DECODE
    try:
        longest = max([max(s.max_width, s.max_height) for s in specs] + [imaging.HASH_SIDE])
        decoded = decode_original(image, longest_needed=longest, keep_gps=keep_gps)
        taken = decoded.exif.get("taken_at")
        image.width, image.height, image.exif = decoded.width, decoded.height, decoded.exif
        if decoded.raw_format and image.format != decoded.raw_format:  # a DNG a scan listed as TIFF
            image.format, image.content_type = decoded.raw_format, RAW_FORMATS[decoded.raw_format][0]
        image.taken_at = parse_datetime(taken) if taken else None
        image.camera = " ".join(filter(None, (decoded.exif.get("make"), decoded.exif.get("model"))))[:200]
        image.decoded_at = timezone.now()
        clock.lap(stage)

        stage = Stage.THUMBNAILS
        current = {t.spec: t.spec_version for t in image.thumbnails.all()} if image.thumbnails_at else {}
        missing = [spec for spec in specs if current.get(spec.name) != spec.version]
        rendered: dict[str, imaging.Rendition] = {}
        if missing:
            outcome.thumbnails, rendered = thumbnails_render(
                image=image, decoded=decoded, specs=missing, tenant_slug=tenant_slug
            )
            image.thumbnails_at = timezone.now()
        clock.lap(stage)

        stage = Stage.HASHES
        if image.hashed_at is None:
            source = imaging.hash_source(decoded.image, rendered)
            image.phash, image.dhash, image.whash = imaging.perceptual_hashes(source)
            image.hashed_at = timezone.now()
        clock.lap(stage)
    except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels) as exc:
        return _failed(outcome, stage, _reason(exc))
    except StorageNotSupported as exc:
        return _failed(outcome, stage, exc.message)
    except OSError as exc:
        raise TransientProcessingError(f"{stage}: {exc}", stage=stage) from exc
    image.status, image.failed_stage, image.failure_reason = ImageStatus.READY, "", ""
    image.processed_at = timezone.now()
    clock.done()
    return outcome


def _failed(outcome: Outcome, stage: str, reason: str) -> Outcome:
    outcome.image.status, outcome.image.failed_stage = ImageStatus.FAILED, stage
    outcome.image.failure_reason = reason[:500]
    outcome.thumbnails = []
    logger.warning("image %s failed at %s: %s", outcome.image.pk, stage, reason)
    return outcome


def _reason(exc: Exception) -> str:
    if isinstance(exc, imaging.TooManyPixels):
        return f"The image is too large to process: {exc}."
    if isinstance(exc, imaging.NotAnImage):
        return "The file is not an image this installation can read."
    return f"The image could not be decoded: {exc}."[:500]


@transaction.atomic
def _image_event(image: Image) -> dict:
    """What a webhook tells about an image that became ready or failed."""
    return {
        "image_id": str(image.pk),
        "filename": image.original_filename,
        "status": image.status,
        "sha256": image.sha256,
        "size_bytes": image.size_bytes,
        "failed_stage": image.failed_stage,
        "failure_reason": image.failure_reason,
    }


def image_mark_failed(*, image: Image, stage: str, reason: str) -> Image:
    Image.objects.filter(pk=image.pk).update(
        status=ImageStatus.FAILED, failed_stage=stage, failure_reason=reason[:500]
    )
    image_outcome_record(status=ImageStatus.FAILED, failed_stage=stage)
    logger.warning("image %s failed at %s: %s", image.pk, stage, reason)
    image.refresh_from_db()
    webhook_emit(event=WebhookEvent.IMAGE_FAILED, data=_image_event(image))
    return image


def images_requeue_waiting(*, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Wake processing for images left waiting (the broker was down when they arrived, their message
    died with a worker, a dead worker's claim was released): one task takes them all, in batches.
    Returns how many wait."""
    image_process_task = queueing.task("ingest.process_image")

    waiting = Image.objects.filter(
        deleted_at__isnull=True, status=ImageStatus.PENDING, created_at__lt=timezone.now() - older_than
    ).count()
    if waiting:
        image_process_task.delay()
    return waiting
