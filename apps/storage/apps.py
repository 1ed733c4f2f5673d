from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "apps.storage"
    label = "storage"

    def ready(self) -> None:
        from apps.accounts.permissions import Perm
        from apps.jobs.registry import job_kind_register
        from apps.storage.services.locations import storage_location_create_default
        from apps.tenants.setup import tenant_setup_register

        tenant_setup_register("storage.default_location", storage_location_create_default, order=10)

        for kind, label, runner in (
            ("storage_migrate", "Move images between storage locations", "migration.migration_run"),
            ("storage_scan", "Scan an index-only storage location", "scanning.scan_run"),
        ):
            job_kind_register(
                kind=kind,
                label=label,
                runner=f"apps.storage.services.{runner}",
                permission=Perm.STORAGE_MANAGE,
                queue="scan",
            )
