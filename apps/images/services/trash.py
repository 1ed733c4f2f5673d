"""The trash as a whole: who may see and restore a trashed image, restore all (a background job with
progress, run at once for a small trash) or some, and empty it for good (a background job with
progress, apps/jobs; each image purged as image_purge does)."""

import logging
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import ApplicationError
from apps.images.models import Image
from apps.images.services.lifecycle import image_purge, image_restore
from apps.images.services.usage import usage_reconcile
from apps.jobs.models import Job
from apps.jobs.runner import JobContext, job_run
from apps.jobs.services import job_create

logger = logging.getLogger(__name__)
TRASH_EMPTY = "images_trash_empty"
TRASH_RESTORE = "images_trash_restore"
BATCH = 50
RESTORE_AT_ONCE = 100  # a trash this small is restored within the request (through the same job)


def image_may_restore(*, image: Image, actor: Actor, permissions) -> bool:
    """Whoever may restore a trashed image may also see it (preview, detail, download): anyone
    holding images.delete_any, and a holder of images.delete_own for what they uploaded."""
    if Perm.IMAGES_DELETE_ANY in permissions:
        return True
    return (
        Perm.IMAGES_DELETE_OWN in permissions
        and actor.user is not None
        and image.uploaded_by_id == actor.user.pk
    )


def trash_of(*, actor: Actor, permissions):
    """The trashed images the caller may restore."""
    images = Image.objects.filter(deleted_at__isnull=False)
    if Perm.IMAGES_DELETE_ANY in permissions:
        return images
    if Perm.IMAGES_DELETE_OWN in permissions and actor.user is not None:
        return images.filter(uploaded_by=actor.user)
    return images.none()


def trash_summary(*, images=None) -> dict:
    """How many images are in the trash (or in `images`) and their bytes, for the confirmations."""
    images = Image.objects.filter(deleted_at__isnull=False) if images is None else images
    totals = images.aggregate(count=Count("id"), bytes=Sum("size_bytes"))
    return {"count": totals["count"] or 0, "bytes": totals["bytes"] or 0}


def _restore_permissions(scope: str) -> frozenset:
    return frozenset({Perm.IMAGES_DELETE_ANY if scope == "all" else Perm.IMAGES_DELETE_OWN})


def trash_restore_all(*, actor: Actor, permissions) -> Job:
    """Restore every image in the trash now that the caller may restore (a member: their own) as a
    background job (progress at GET /jobs/{id}, cancellable); one of up to RESTORE_AT_ONCE images is
    run here and comes back done. Images trashed after the call stay in the trash."""
    before = timezone.now()
    scope = "all" if Perm.IMAGES_DELETE_ANY in permissions else "own"
    with transaction.atomic():
        summary = trash_summary(
            images=trash_of(actor=actor, permissions=_restore_permissions(scope)).filter(
                deleted_at__lte=before
            )
        )
        job = job_create(
            kind=TRASH_RESTORE, actor=actor, params={"before": before.isoformat(), "scope": scope, **summary}
        )
        if summary["count"] <= RESTORE_AT_ONCE:
            # the same runner, here, before the run is enqueued (on commit): the worker then finds
            # the job done and does nothing
            job = job_run(job_id=job.pk) or job
    return job


def trash_restore_run(ctx: JobContext) -> None:
    """The images_trash_restore runner: restore, batch by batch, what the person who asked may
    restore and what was in the trash then; resumable (restored images leave the trash),
    cancellable between batches. Each image as image_restore does (audited, groups refreshed)."""
    before = datetime.fromisoformat(ctx.params["before"])
    actor = Actor(user=ctx.job.created_by)
    permissions = _restore_permissions(ctx.params.get("scope", "own"))
    images = trash_of(actor=actor, permissions=permissions).filter(deleted_at__lte=before)
    ctx.progress(total=ctx.job.processed + ctx.job.failed + images.count())
    last = None
    while batch := list((images.filter(pk__gt=last) if last else images).order_by("pk")[:BATCH]):
        restored = failed = 0
        for image in batch:
            try:
                image_restore(image=image, actor=actor, permissions=permissions, tenant=ctx.tenant)
                restored += 1
            except ApplicationError as exc:
                logger.info("restore of %s refused: %s", image.pk, exc.message)
                failed += 1
        last = batch[-1].pk
        ctx.heartbeat(processed=restored, failed=failed)


@transaction.atomic
def trash_empty_start(*, actor: Actor, tenant) -> Job:
    """Empty the trash for good: what is in it now (not what is trashed after this call) is purged
    by a background job. Audited here, with the count and bytes the person confirmed."""
    before = timezone.now()
    summary = trash_summary(images=Image.objects.filter(deleted_at__lte=before))
    job = job_create(kind=TRASH_EMPTY, actor=actor, params={"before": before.isoformat(), **summary})
    audit_record(
        actor=actor,
        action=AuditAction.TRASH_EMPTIED,
        tenant=tenant,
        target_type="jobs.job",
        target_id=str(job.pk),
        details={"images": summary["count"], "bytes": summary["bytes"], "before": before.isoformat()},
    )
    return job


def trash_empty_run(ctx: JobContext) -> None:
    """The images_trash_empty runner: purge, batch by batch, what was in the trash when the person
    asked; resumable (purged rows are gone), cancellable between batches."""
    before = datetime.fromisoformat(ctx.params["before"])
    actor = Actor(user=ctx.job.created_by)
    images = Image.objects.select_related("storage_location").filter(deleted_at__lte=before)
    ctx.progress(total=ctx.job.processed + ctx.job.failed + images.count())
    try:
        while batch := list(images.order_by("pk")[:BATCH]):
            for image in batch:
                image_purge(image=image, actor=actor, tenant=ctx.tenant)
            ctx.heartbeat(processed=len(batch))
    finally:
        usage_reconcile()
    logger.info("trash emptied by job %s", ctx.job.pk)
