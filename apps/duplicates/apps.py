from django.apps import AppConfig


class DuplicatesConfig(AppConfig):
    name = "apps.duplicates"
    label = "duplicates"

    def ready(self) -> None:
        from apps.accounts.permissions import Perm
        from apps.jobs.registry import job_kind_register

        job_kind_register(
            kind="duplicates_rescan",
            label="Re-scan for duplicates",
            runner="apps.duplicates.services.rescan.rescan_run",
            permission=Perm.DUPLICATES_MANAGE,
            queue="maintenance",
        )
        job_kind_register(
            kind="duplicates_resolve_all",
            label="Resolve all duplicate groups",
            runner="apps.duplicates.services.review.resolve_all_run",
            permission=Perm.DUPLICATES_MANAGE,
            queue="maintenance",
        )
