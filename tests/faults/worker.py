"""A worker of the fault tests: as the runner starts it (prefork, mingle and gossip on, every
queue, the app's prefetch of 8; one pool process here), on a broker the test owns (and takes away),
with the test-only tasks of tests/faults/tasks.py loaded. A thin use of tests/support/workers.py."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.workers import ALL_QUEUES, Worker, worker_start


@contextmanager
def fault_worker(
    *,
    redis_url: str,
    database_url: str,
    log_path: Path,
    queues=ALL_QUEUES,
    name: str = "faults",
    **environ: str,
) -> Iterator[Worker]:
    """Yields the worker once it says it is ready; `environ` adds to its environment."""
    worker = worker_start(
        name=name,
        queues=queues,
        concurrency=1,
        pool="prefork",
        env=environ,
        database_url=database_url,
        redis_url=redis_url,
        log_path=log_path,
        gossip=True,
        args=("--include", "tests.faults.tasks"),
    )
    try:
        yield worker
    finally:
        worker.stop()


def log_tail(log_path: Path, chars: int = 4000) -> str:
    return log_path.read_text()[-chars:] if log_path.exists() else ""
