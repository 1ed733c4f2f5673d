"""The jobs subsystem: the kind registry, the per-job lock, heartbeat and progress, resume of a
job whose worker went silent, and cancel, on kinds of the test's own and on the domains' kinds."""

from datetime import timedelta

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.jobs import services as jobs_services
from apps.jobs.errors import UnknownJobKind
from apps.jobs.models import Job
from apps.jobs.registry import job_kind_get, job_kinds
from apps.jobs.runner import job_run, lock_key
from apps.jobs.services import job_create, jobs_resume_stalled
from tests.conftest import url_of_test_database

DOMAIN_KINDS = {
    "duplicates_rescan": "maintenance",
    "duplicates_resolve_all": "maintenance",
    "duplicates_remove_identical": "maintenance",
    "duplicates_rerank": "maintenance",
    "duplicates_similar_regroup": "maintenance",
    "images_trash_empty": "maintenance",
    "images_trash_restore": "maintenance",
    "search_embed": "embed",
    "tenant_export": "maintenance",
    "storage_migrate": "scan",
    "storage_scan": "scan",
    "thumbnails_apply": "thumbnails",
    "thumbnails_regenerate": "thumbnails",
}


@pytest.fixture
def sent(monkeypatch):
    """What the services enqueue (jobs.run messages), instead of sending them."""
    messages: list[tuple[str, str, int]] = []
    monkeypatch.setattr(
        jobs_services,
        "_enqueue",
        lambda job_id, *, queue, time_limit: messages.append((job_id, queue, time_limit)),
    )
    return messages


def test_every_domain_registers_its_kinds_with_a_queue():
    assert {spec.kind: spec.queue for spec in job_kinds()} == DOMAIN_KINDS


def test_an_unknown_kind_is_refused_with_the_registered_ones_named(alpha):
    with tenant_context(alpha), pytest.raises(UnknownJobKind) as refused:
        job_create(kind="thumbnails_aply", actor=Actor.system())

    assert refused.value.code == "job_kind_unknown"
    assert refused.value.message.startswith("Unknown job kind 'thumbnails_aply'; the registered kinds are: ")
    assert "thumbnails_apply" in refused.value.message
    with tenant_context(alpha):
        assert not Job.objects.exists()
        with pytest.raises(ValidationError) as invalid:
            Job(kind="nope").full_clean()
    assert invalid.value.error_dict["kind"][0].code == "job_kind_unknown"


def test_a_job_runs_with_progress_and_heartbeat(alpha, test_kinds, sent):
    with tenant_context(alpha):
        job = job_create(kind="test_count", actor=Actor.system(), params={"steps": 4})
        before = timezone.now()
        done = job_run(job_id=job.pk)

    assert (done.state, done.total, done.processed, done.failed, done.attempts) == ("done", 4, 4, 0, 1)
    assert done.params == {"steps": 4, "cursor": 4}
    assert done.heartbeat_at >= before and done.started_at >= before and done.finished_at >= done.started_at
    assert done.progress == 1.0 and done.label == "Count for the tests"
    assert test_kinds == [{"job_id": str(job.pk), "cursor": 0}]


def test_jobs_run_is_sent_to_each_kinds_queue_after_commit(
    alpha, test_kinds, sent, django_capture_on_commit_callbacks
):
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        first = job_create(kind="test_count", actor=Actor.system())
        second = job_create(kind="test_once", actor=Actor.system())
        assert sent == []

    assert sent == [(str(first.pk), "maintenance", 6 * 3600), (str(second.pk), "scan", 600)]


def test_a_runner_that_fails_marks_the_job_failed_with_its_reason(alpha, test_kinds):
    with tenant_context(alpha):
        job = job_create(kind="test_count", actor=Actor.system(), params={"fail": "The bucket is gone."})
        failed = job_run(job_id=job.pk)

    assert (failed.state, failed.error, failed.processed) == ("failed", "The bucket is gone.", 0)
    assert failed.finished_at is not None


def test_two_runners_of_one_job_only_one_runs(alpha, test_kinds):
    """The other runner holds the job's lock on its own connection (another worker): this one
    leaves the job alone; once the lock is free, the job runs once, and a late duplicate is a no-op."""
    with tenant_context(alpha):
        job = job_create(kind="test_count", actor=Actor.system())
        with psycopg.connect(url_of_test_database(), autocommit=True) as other:
            assert other.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(job.pk)]).fetchone()[0]

            assert job_run(job_id=job.pk) is None
            job.refresh_from_db()
            assert (job.state, job.attempts, test_kinds) == ("queued", 0, [])

            other.execute("SELECT pg_advisory_unlock(%s)", [lock_key(job.pk)])
        assert job_run(job_id=job.pk).state == "done"
        assert job_run(job_id=job.pk).state == "done"

    assert len(test_kinds) == 1


def test_a_stalled_job_is_resumed_from_its_cursor(alpha, test_kinds, sent):
    """Its worker died after two of five steps: the heartbeat went silent, the resumer sends it
    again (once per silent period), and the next run goes on from step 2."""
    with tenant_context(alpha):
        job = job_create(kind="test_count", actor=Actor.system(), params={"steps": 5, "die_after": 2})
        with pytest.raises(RuntimeError):
            job_run(job_id=job.pk)
        job.refresh_from_db()
        assert (job.state, job.processed, job.params["cursor"]) == ("running", 2, 2)
        alive = job_create(kind="test_count", actor=Actor.system())
        Job.objects.filter(pk=alive.pk).update(state="running", heartbeat_at=timezone.now())

        assert jobs_resume_stalled(stale_after=timedelta(minutes=5)) == 0
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=6))
        assert jobs_resume_stalled(stale_after=timedelta(minutes=5)) == 1
        assert jobs_resume_stalled(stale_after=timedelta(minutes=5)) == 0

        Job.objects.filter(pk=job.pk).update(params={"steps": 5, "cursor": 2})
        resumed = job_run(job_id=job.pk)

    assert sent == [(str(job.pk), "maintenance", 6 * 3600)]
    assert (resumed.state, resumed.processed, resumed.total, resumed.attempts) == ("done", 5, 5, 2)
    assert [call["cursor"] for call in test_kinds] == [0, 2]


def test_a_lost_queued_job_is_sent_again(alpha, test_kinds, sent):
    with tenant_context(alpha):
        job = job_create(kind="test_count", actor=Actor.system())
        Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=10))

        assert jobs_resume_stalled(stale_after=timedelta(minutes=5)) == 1

    assert sent == [(str(job.pk), "maintenance", 6 * 3600)]


def test_a_stalled_job_that_cannot_resume_or_kept_dying_fails(alpha, test_kinds, sent):
    long_ago = timezone.now() - timedelta(hours=1)
    with tenant_context(alpha):
        once = job_create(kind="test_once", actor=Actor.system())
        tired = job_create(kind="test_count", actor=Actor.system())
        Job.objects.filter(pk=once.pk).update(state="running", heartbeat_at=long_ago, attempts=1)
        Job.objects.filter(pk=tired.pk).update(state="running", heartbeat_at=long_ago, attempts=5)

        assert jobs_resume_stalled(stale_after=timedelta(minutes=5), max_attempts=5) == 0
        once.refresh_from_db()
        tired.refresh_from_db()

    assert sent == []
    assert (once.state, once.error) == ("failed", "Its worker stopped, and this kind of job cannot resume.")
    assert (tired.state, tired.error) == ("failed", "Stopped after 5 attempts; its worker kept stopping.")


def test_a_job_of_a_kind_no_longer_registered_fails_when_run(alpha, test_kinds):
    with tenant_context(alpha):
        job = job_create(kind="test_count", actor=Actor.system())
        Job.objects.filter(pk=job.pk).update(kind="gone_kind")
        failed = job_run(job_id=job.pk)

    assert failed.state == "failed" and failed.error.startswith("Unknown job kind 'gone_kind'")
    assert test_kinds == []


def test_registered_runners_resolve_from_their_path(test_kinds):
    from tests.jobs.conftest import counting_runner

    assert job_kind_get("test_once").resolve_runner() is counting_runner
