"""Periodic maintenance of the workspace app: old export zips deleted after their retention."""

from apps.workspace.exports import exports_expire
from celery_app import SharedTask, TenantTask, app


@app.task(base=TenantTask, name="maintenance.exports_expire_tenant")
def exports_expire_tenant_task() -> int:
    return exports_expire()


@app.task(base=SharedTask, name="maintenance.exports_expire")
def exports_expire_task() -> int:
    """Daily (beat): delete expired export zips in every tenant, one task per tenant."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(exports_expire_tenant_task)
