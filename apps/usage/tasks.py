from apps.usage.services import usage_snapshot
from celery_app import SharedTask, app


@app.task(base=SharedTask, name="maintenance.usage_snapshot")
def usage_snapshot_task() -> int:
    return usage_snapshot()
