from collections.abc import Iterable

from django.db.models import QuerySet

from apps.jobs.models import Job


def job_get(*, job_id, kinds: Iterable[str] | None = None) -> Job | None:
    jobs = Job.objects.select_related("created_by")
    if kinds is not None:
        jobs = jobs.filter(kind__in=list(kinds))
    return jobs.filter(pk=job_id).first()


def job_list(*, kinds: Iterable[str] | None = None, state: str | None = None) -> QuerySet[Job]:
    """Newest first; `kinds` limits it to those (the ones the caller may see), `state` to one state."""
    jobs = Job.objects.select_related("created_by").order_by("-created_at")
    if kinds is not None:
        jobs = jobs.filter(kind__in=list(kinds))
    if state:
        jobs = jobs.filter(state=state)
    return jobs
