"""Faults under a real library, each with a worker (embedded beat) and a broker of its own:

- a worker killed with SIGKILL in the middle of a batch: the images it had claimed, the messages it
  held and the images still waiting are processed and indexed by the next worker within a minute.
  Before the stage claims and the worker heartbeats, claims waited out a 20-minute timeout and held
  messages Redis's one-hour visibility timeout; ready images that missed their index task stayed
  unindexed for good;
- Redis killed under load: the worker survives, every image ends indexed;
- the database taken away from the worker for 10 s: nothing fails for good, every image ends
  indexed (before, detection tasks failed for good on the outage and their images stayed unindexed).
"""

import time

import pytest
from django.db import connection

from deeplens.embedded import EmbeddedRedis, free_port
from tests.conftest import url_of_test_database
from tests.faults.dbproxy import DatabaseProxy
from tests.faults.library import tail, wait_for, waiting_library, worker

pytestmark = pytest.mark.slow
IMAGES = 16
RECOVERY_LIMIT = 60


@pytest.fixture
def broker(tmp_path):
    redis = EmbeddedRedis(tmp_path / "broker", port=free_port())
    url = redis.start()
    yield redis, url
    redis.stop()


def test_a_worker_killed_mid_batch_leaves_nothing_behind(
    django_db_setup, django_db_blocker, tmp_path, broker, monkeypatch
):
    _redis, broker_url = broker
    with django_db_blocker.unblock(), waiting_library(IMAGES, monkeypatch) as library:
        database_url = url_of_test_database()
        log = tmp_path / "worker.log"
        with worker(redis_url=broker_url, database_url=database_url, log_path=log) as first:
            wait_for(
                lambda: library.counts()["ready"] >= 2 and library.counts()["claimed"] >= 1,
                60,
                lambda: f"the first worker never got going: {library.counts()}\n{tail(log)}",
            )
            at_kill = library.counts()
            first.kill_all()
            killed_at = time.monotonic()
        assert at_kill["indexed"] < IMAGES, at_kill
        log2 = tmp_path / "worker2.log"
        with worker(redis_url=broker_url, database_url=database_url, log_path=log2):
            wait_for(
                library.all_indexed,
                RECOVERY_LIMIT,
                lambda: f"not everything indexed after the kill: {library.counts()}\n{tail(log2)}",
            )
            recovered = time.monotonic() - killed_at
        print(f"\nworker killed at {at_kill}; everything indexed {recovered:.1f} s after the kill")


def test_redis_killed_under_load_the_worker_survives_and_everything_is_indexed(
    django_db_setup, django_db_blocker, tmp_path, broker, monkeypatch
):
    redis, broker_url = broker
    with django_db_blocker.unblock(), waiting_library(IMAGES, monkeypatch) as library:
        log = tmp_path / "worker.log"
        with worker(redis_url=broker_url, database_url=url_of_test_database(), log_path=log) as process:
            wait_for(
                lambda: library.counts()["ready"] >= 2,
                60,
                lambda: f"the worker never got going: {library.counts()}\n{tail(log)}",
            )
            at_kill = library.counts()
            redis.process.kill()
            redis.process.wait(timeout=10)
            killed_at = time.monotonic()
            time.sleep(2)
            redis.start()
            wait_for(
                library.all_indexed,
                RECOVERY_LIMIT,
                lambda: f"not everything indexed after Redis came back: {library.counts()}\n{tail(log)}",
            )
            recovered = time.monotonic() - killed_at
            assert process.alive(), tail(log)
        assert "Unrecoverable error" not in log.read_text()
        print(f"\nRedis killed at {at_kill}; everything indexed {recovered:.1f} s after the kill")


def test_the_database_gone_for_ten_seconds_fails_nothing_for_good(
    django_db_setup, django_db_blocker, tmp_path, broker, monkeypatch
):
    _redis, broker_url = broker
    with django_db_blocker.unblock(), waiting_library(IMAGES, monkeypatch) as library:
        proxy = DatabaseProxy(
            connection.settings_dict["HOST"] + f"/.s.PGSQL.{connection.settings_dict['PORT'] or 5432}"
        )
        log = tmp_path / "worker.log"
        try:
            database_url = proxy.url(connection.settings_dict["NAME"], connection.settings_dict["USER"])
            with worker(redis_url=broker_url, database_url=database_url, log_path=log) as process:
                wait_for(
                    lambda: library.counts()["ready"] >= 2,
                    60,
                    lambda: f"the worker never got going: {library.counts()}\n{tail(log)}",
                )
                at_cut = library.counts()
                proxy.cut()
                time.sleep(10)
                proxy.restore()
                restored_at = time.monotonic()
                wait_for(
                    library.all_indexed,
                    RECOVERY_LIMIT,
                    lambda: f"not everything indexed after the outage: {library.counts()}\n{tail(log)}",
                )
                recovered = time.monotonic() - restored_at
                assert process.alive(), tail(log)
        finally:
            proxy.close()
        print(f"\ndatabase cut at {at_cut} for 10 s; everything indexed {recovered:.1f} s after it came back")
