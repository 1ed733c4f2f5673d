"""The thumbnails jobs (apps/jobs runs them): re-rendering thumbnails after the configuration
changes (thumbnails_apply: only the stale ones) or on request (thumbnails_regenerate: all)."""

import logging

from apps.images import imaging
from apps.images.models import Image, ImageStatus, Thumbnail
from apps.images.services.thumbnails import active_specs, thumbnails_generate
from apps.jobs.runner import JobContext

logger = logging.getLogger(__name__)
BATCH = 50
THUMBNAILS_APPLY = "thumbnails_apply"
THUMBNAILS_REGENERATE = "thumbnails_regenerate"


def _images_for(params: dict):
    images = Image.objects.filter(deleted_at__isnull=True, status=ImageStatus.READY)
    if "image_ids" in params:  # the images asked for, and none other: [] is none at all
        images = images.filter(pk__in=params["image_ids"])
    return images.order_by("pk")


def thumbnails_job_run(ctx: JobContext) -> None:
    """From the last batch done (resumable), one heartbeat per batch."""
    images = _images_for(ctx.params)
    cursor = ctx.params.get("cursor")
    if not cursor:
        ctx.progress(total=images.count())
    specs = active_specs()
    tenant_slug = ctx.tenant.slug
    while True:
        batch = list(
            images.filter(pk__gt=cursor).select_related("storage_location")[:BATCH]
            if cursor
            else images.select_related("storage_location")[:BATCH]
        )
        if not batch:
            break
        done = failed = 0
        for image in batch:
            try:
                if ctx.job.kind == THUMBNAILS_APPLY:
                    current = dict(Thumbnail.objects.filter(image=image).values_list("spec", "spec_version"))
                    stale = [spec for spec in specs if current.get(spec.name) != spec.version]
                else:
                    stale = specs
                if stale:
                    thumbnails_generate(image=image, specs=stale, tenant_slug=tenant_slug)
                done += 1
            except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels, OSError) as exc:
                logger.warning("job %s: image %s failed: %s", ctx.job.pk, image.pk, exc)
                failed += 1
        cursor = str(batch[-1].pk)
        ctx.heartbeat(processed=done, failed=failed, params={"cursor": cursor})
