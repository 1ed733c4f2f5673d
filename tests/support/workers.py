"""One way to start a real `celery worker` process for the tests, and to stop it."""

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
ALL_QUEUES = ("ingest", "thumbnails", "embed", "index", "scan", "maintenance")


@dataclass
class Worker:
    process: subprocess.Popen
    hostname: str
    log_path: Path
    log: IO[str]

    def kill(self, sig: int) -> None:
        """Send a signal (SIGKILL to simulate a crash) and wait for the process to go."""
        self.process.send_signal(sig)
        self.process.wait(timeout=10)

    def kill_all(self) -> None:
        """SIGKILL to the worker and its pool processes at once, as the OOM killer or a lost host."""
        import psutil

        try:
            parent = psutil.Process(self.process.pid)
            processes = [*parent.children(recursive=True), parent]
        except psutil.NoSuchProcess:
            return
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.process.wait(timeout=10)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        self.log.flush()
        return self.log_path.read_text()[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


def worker_start(
    *,
    name: str,
    queues: tuple[str, ...] | list[str] = ALL_QUEUES,
    concurrency: int = 1,
    env: dict[str, str] | None = None,
    database_url: str | None = None,
    wait_ready: bool = True,
    timeout: float = 60,
    redis_url: str | None = None,
    pool: str | None = None,
    args: tuple[str, ...] = (),
    log_path: Path | None = None,
    gossip: bool = False,
) -> Worker:
    """A `celery worker` on `queues` against the test database (`database_url`, the test database of
    this run unless given) and Redis (`redis_url`, the run's unless given: fault tests give it a
    broker of its own); its output goes to `log_path` (var/test-<name>.log).

    concurrency 1 runs the solo pool (one task at a time, in the main thread) unless `pool` says
    prefork; more runs prefork. `args` adds worker options (--beat, --include ...). With
    `wait_ready`, returns once the worker says it is ready (a ping through the run's broker, or
    its log's "ready." line on a broker of its own). The hostname stays the same for one name in
    one test run, so a second start is a restart of the same node.
    """
    if database_url is None:
        from tests.conftest import url_of_test_database

        database_url = url_of_test_database()
    hostname = f"{name}-{os.getpid()}@localhost"
    process_env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url or os.environ["REDIS_URL"],
        DJANGO_SETTINGS_MODULE="deeplens.settings.test",
        **(env or {}),
    )
    pool_args = (
        ["--pool", "solo"]
        if concurrency == 1 and pool != "prefork"
        else ["--pool", "prefork", "--concurrency", str(concurrency)]
    )
    log_path = log_path or ROOT / "var" / f"test-{name}.log"
    log = open(log_path, "w")  # noqa: SIM115 - Worker.stop closes it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_app",
            "worker",
            *pool_args,
            "--queues",
            ",".join(queues),
            "--loglevel",
            "INFO",
            *([] if gossip else ["--without-mingle", "--without-gossip"]),
            "--hostname",
            hostname,
            *args,
        ],
        cwd=ROOT,
        env=process_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    worker = Worker(process=process, hostname=hostname, log_path=log_path, log=log)
    if wait_ready:
        from celery_app import app

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"The Celery worker {name} exited:\n{worker.log_tail()}")
            if redis_url:
                return " ready." in worker.log_tail(chars=100_000)
            return bool(app.control.ping(destination=[hostname], timeout=0.5, limit=1))

        try:
            eventually(
                answers,
                timeout=timeout,
                interval=0,
                message=f"The Celery worker {name} did not start; see {log_path}",
            )
        except AssertionError:
            worker.stop()
            raise
    return worker


@contextmanager
def running_worker(**kwargs) -> Iterator[Worker]:
    """`worker_start(**kwargs)`, stopped when the block ends."""
    worker = worker_start(**kwargs)
    try:
        yield worker
    finally:
        worker.stop()
