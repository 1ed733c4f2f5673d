"""Celery entry point of webhooks: send one delivery, and schedule its next try if it failed."""

from apps.webhooks.services import webhook_deliver
from celery_app import TenantTask, app


@app.task(base=TenantTask, name="webhooks.deliver", bind=True, time_limit=120, soft_time_limit=100)
def webhook_deliver_task(self, delivery_id: str) -> int | None:
    wait = webhook_deliver(delivery_id=delivery_id)
    if wait is not None:
        self.apply_async(kwargs={"delivery_id": delivery_id}, countdown=wait)
    return wait
