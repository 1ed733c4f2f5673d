"""A test-only task for the fault tests; the workers they start load it with `--include`."""

import time
from pathlib import Path

from celery_app import SharedTask, app


@app.task(name="faults.mark", base=SharedTask)
def fault_mark_task(*, folder: str, name: str, seconds: float) -> None:
    """Work that takes `seconds`, then leaves a file as proof that it ran (a file, not a Redis key:
    the proof must not depend on the broker that the tests take away)."""
    time.sleep(seconds)
    Path(folder, name).touch()
