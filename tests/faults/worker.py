"""A Celery worker process of our own for the fault tests, against a broker the test owns (and
takes away), with the test-only tasks of tests/faults/tasks.py loaded."""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def fault_worker(
    *,
    redis_url: str,
    database_url: str,
    log_path: Path,
    queues: str = "ingest,thumbnails,embed,index,scan,maintenance",
    **environ: str,
):
    """A worker as the runner starts it (prefork, mingle and gossip on, every queue; one child
    here) with the app's prefetch of 8; its stdout and stderr go to log_path, `environ` adds to its
    environment. Yields the process once the worker says it is ready."""
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="deeplens.settings.test",
        **environ,
    )
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "worker",
                "--include",
                "tests.faults.tasks",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "--queues",
                queues,
                "--loglevel",
                "INFO",
                "--hostname",
                f"faults-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while " ready." not in log_path.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"The Celery worker did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.1)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def log_tail(log_path: Path, chars: int = 4000) -> str:
    return log_path.read_text()[-chars:]
