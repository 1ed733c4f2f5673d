"""Background jobs with progress: re-rendering thumbnails after the configuration changes."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.context import Actor
from apps.images import imaging
from apps.images.models import Image, ImageStatus, Job, Thumbnail
from apps.images.services.thumbnails import active_specs, thumbnails_generate

logger = logging.getLogger(__name__)
BATCH = 50


@transaction.atomic
def job_create(*, kind: str, actor: Actor, params: dict | None = None) -> Job:
    from apps.images.tasks import job_run_task

    job = Job.objects.create(kind=kind, params=params or {}, created_by=actor.user)
    job_id = str(job.pk)
    transaction.on_commit(lambda: job_run_task.delay(job_id=job_id))
    return job


def _images_for(job: Job):
    images = Image.objects.filter(deleted_at__isnull=True, status=ImageStatus.READY)
    if ids := job.params.get("image_ids"):
        images = images.filter(pk__in=ids)
    return images.order_by("pk")


def job_run(*, job_id, tenant_slug: str) -> Job | None:
    """Run (or resume after a crash) from the last image done; safe to call twice."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.state in (Job.State.DONE, Job.State.FAILED, Job.State.CANCELLED):
        return job
    images = _images_for(job)
    if job.state == Job.State.QUEUED:
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.RUNNING, started_at=timezone.now(), total=images.count()
        )
    specs = active_specs()
    cursor = job.params.get("cursor")
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
                if job.kind == Job.Kind.THUMBNAILS_APPLY:
                    current = dict(Thumbnail.objects.filter(image=image).values_list("spec", "spec_version"))
                    stale = [spec for spec in specs if current.get(spec.name) != spec.version]
                else:
                    stale = specs
                if stale:
                    thumbnails_generate(image=image, specs=stale, tenant_slug=tenant_slug)
                done += 1
            except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels, OSError) as exc:
                logger.warning("job %s: image %s failed: %s", job.pk, image.pk, exc)
                failed += 1
        cursor = str(batch[-1].pk)
        Job.objects.filter(pk=job.pk).update(
            processed=F("processed") + done,
            failed=F("failed") + failed,
            params={**job.params, "cursor": cursor},
        )
    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job
