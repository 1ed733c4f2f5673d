"""The worker survives losing its broker with messages in flight: Redis killed (SIGKILL) or stopped
(SIGTERM) while a real worker holds unacked messages and waits on BRPOP, then started again on the
same port and data folder. Before the patch in celery_app.py the worker exited with
`Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")`."""

import signal
import time
from pathlib import Path

import pytest
from kombu import Connection

from celery_app import app
from deeplens.embedded import EmbeddedRedis, free_port
from tests.conftest import url_of_test_database
from tests.faults.library import wait_for
from tests.faults.worker import fault_worker, log_tail

TASK_SECONDS = 0.1
# The held messages come back to the queue once this old (production: 16 minutes).
VISIBILITY_SECONDS = 3


def _enqueue(redis_url: str, folder: Path, names: list[str], countdown: float | None = None) -> None:
    with Connection(redis_url) as connection:
        for name in names:
            app.send_task(
                "faults.mark",
                kwargs={"folder": str(folder), "name": name, "seconds": TASK_SECONDS},
                queue="maintenance",
                connection=connection,
                countdown=countdown,
            )


def _done(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir()}


@pytest.fixture
def database_url_for_workers(db) -> str:
    """The test database (pytest-django creates it only for a run with a test that asks for it)."""
    return url_of_test_database()


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_the_worker_survives_the_loss_of_redis_with_messages_in_flight(
    tmp_path, database_url_for_workers, stop_signal
):
    redis = EmbeddedRedis(tmp_path / "broker", port=free_port())
    redis_url = redis.start()
    proofs = tmp_path / "proofs"
    proofs.mkdir()
    log_path = tmp_path / "worker.log"
    try:
        with fault_worker(
            redis_url=redis_url,
            database_url=database_url_for_workers,
            log_path=log_path,
            DEEPLENS_BROKER_VISIBILITY_TIMEOUT=str(VISIBILITY_SECONDS),
        ) as worker:
            # Given a worker that ran 40 tasks and holds 10 countdown messages unacked, waiting on BRPOP
            now = [f"now-{number:02}" for number in range(40)]
            held = [f"held-{number:02}" for number in range(10)]
            _enqueue(redis_url, proofs, held, countdown=8)
            _enqueue(redis_url, proofs, now)
            wait_for(
                lambda: _done(proofs) == set(now),
                30,
                lambda: f"{sorted(_done(proofs))}\n{log_tail(log_path)}",
            )

            # When Redis goes away and comes back on the same port with the same data
            redis.process.send_signal(stop_signal)
            redis.process.wait(timeout=20)
            time.sleep(2)
            assert worker.alive(), f"The worker exited while Redis was down:\n{log_tail(log_path)}"
            redis.start()
            restarted = time.monotonic()
            after = [f"after-{number}" for number in range(5)]
            _enqueue(redis_url, proofs, after)

            # Then the worker is still there and consumes again: new work at once, and the messages it
            # held when Redis went away once the visibility timeout returns them to the queue
            wait_for(
                lambda: "after-0" in _done(proofs),
                20,
                lambda: f"Nothing ran after Redis came back:\n{log_tail(log_path)}",
            )
            consuming = time.monotonic() - restarted
            wait_for(
                lambda: _done(proofs) == set(now + held + after),
                30,
                lambda: f"Missing {sorted(set(now + held + after) - _done(proofs))}:\n{log_tail(log_path)}",
            )
            assert worker.alive(), log_tail(log_path)
            print(f"\n{stop_signal.name}: the worker ran a new task {consuming:.2f} s after Redis was back")
    finally:
        redis.stop()
