from django.apps import AppConfig


class StorageConfig(AppConfig):
    name = "apps.storage"
    label = "storage"

    def ready(self) -> None:
        from apps.accounts.permissions import Perm
        from apps.jobs.registry import job_kind_register

        for kind, label in (
            ("storage_migrate", "Move images between storage locations"),
            ("storage_scan", "Scan an index-only storage location"),
        ):
            job_kind_register(
                kind=kind,
                label=label,
                runner="apps.storage.services.jobs.storage_job_run",
                permission=Perm.STORAGE_MANAGE,
                queue="scan",
            )
