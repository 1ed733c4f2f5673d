"""Enqueueing detection and the duplicates jobs (re-scan, resolve all)."""

from django.db import transaction

from apps.audit.context import Actor
from apps.images.models import Job


def images_detect_enqueue(*, image_ids) -> None:
    """After images become READY: detection runs on the `index` queue, once the rows are committed."""
    from apps.duplicates.tasks import duplicates_detect_task

    ids = [str(i) for i in image_ids]
    if ids:
        transaction.on_commit(lambda: duplicates_detect_task.delay(image_ids=ids))


@transaction.atomic
def duplicates_job_create(*, kind: str, actor: Actor, params: dict | None = None) -> Job:
    from apps.duplicates.tasks import duplicates_job_task

    job = Job.objects.create(kind=kind, params=params or {}, created_by=actor.user)
    job_id = str(job.pk)
    transaction.on_commit(lambda: duplicates_job_task.delay(job_id=job_id))
    return job


def duplicates_job_run(*, job_id, tenant) -> Job | None:
    from apps.duplicates.services.rescan import rescan_run
    from apps.duplicates.services.review import resolve_all_run

    job = Job.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.state in (Job.State.DONE, Job.State.FAILED):
        return job
    if job.kind == Job.Kind.DUPLICATES_RESCAN:
        return rescan_run(job=job)
    if job.kind == Job.Kind.DUPLICATES_RESOLVE_ALL:
        return resolve_all_run(job=job, tenant=tenant)
    return job
