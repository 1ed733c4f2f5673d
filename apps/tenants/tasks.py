from apps.core.connection import connection
from apps.images.selectors import thumbnail_spec_list
from apps.storage.selectors import storage_location_list
from celery_app import TenantTask, app


@app.task(base=TenantTask, name="tenants.ping", ignore_result=False)
def tenant_ping_task() -> dict:
    """Answers from inside the tenant's schema: proves workers run tenant work where it belongs."""
    return {
        "schema": connection.schema_name,
        "storage_locations": [location.name for location in storage_location_list()],
        "thumbnail_specs": list(thumbnail_spec_list().values_list("name", flat=True)),
    }
