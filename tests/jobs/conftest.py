import pytest

from apps.accounts.permissions import Perm
from apps.jobs import registry
from apps.jobs.errors import JobFailed
from tests.api import as_user

CALLS: list[dict] = []


def counting_runner(ctx) -> None:
    """Counts a batch per step from the job's cursor; params may ask it to fail or to stop after a
    number of steps (as if its worker died there)."""
    CALLS.append({"job_id": str(ctx.job.pk), "cursor": ctx.params.get("cursor", 0)})
    if reason := ctx.params.get("fail"):
        raise JobFailed(reason)
    cursor = ctx.params.get("cursor", 0)
    ctx.progress(total=ctx.params.get("steps", 3))
    while cursor < ctx.params.get("steps", 3):
        cursor += 1
        ctx.heartbeat(processed=1, params={"cursor": cursor})
        if cursor == ctx.params.get("die_after"):
            raise RuntimeError("the worker died here")


@pytest.fixture
def test_kinds():
    """Two kinds of the test's own, registered the way a domain's ready() does, then removed."""
    CALLS.clear()
    registry.job_kind_register(
        kind="test_count",
        label="Count for the tests",
        runner=counting_runner,
        permission=Perm.IMAGES_VIEW,
        manage_permission=Perm.THUMBNAILS_MANAGE,
        queue="maintenance",
    )
    registry.job_kind_register(
        kind="test_once",
        label="Count once",
        runner="tests.jobs.conftest.counting_runner",
        permission=Perm.STORAGE_MANAGE,
        queue="scan",
        cancellable=False,
        resumable=False,
        time_limit=600,
    )
    yield CALLS
    registry._KINDS.pop("test_count", None)
    registry._KINDS.pop("test_once", None)


@pytest.fixture
def admin_api(users):
    return as_user(users["admin"])


@pytest.fixture
def viewer_api(users):
    return as_user(users["viewer"])
