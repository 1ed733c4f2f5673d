from apps.images.services.idempotency import idempotency_keys_purge
from apps.images.services.usage import usage_reconcile
from apps.usage.services import usage_snapshot
from celery_app import SharedTask, TenantTask, app


@app.task(base=SharedTask, name="maintenance.usage_snapshot")
def usage_snapshot_task() -> int:
    return usage_snapshot()


@app.task(base=TenantTask, name="maintenance.storage_usage_reconcile_tenant")
def storage_usage_reconcile_tenant_task() -> int:
    """The tenant's storage counter recomputed from its images and live upload reservations (those a
    dead web worker left behind expire), and its expired idempotency keys deleted."""
    usage_reconcile()
    return idempotency_keys_purge()


@app.task(base=SharedTask, name="maintenance.storage_usage_reconcile")
def storage_usage_reconcile_task() -> int:
    """Every 10 minutes (beat): one reconcile task per active tenant."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(storage_usage_reconcile_tenant_task)
