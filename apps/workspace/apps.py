from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """Running a workspace: its settings in one place (gathered from the domains that own them) and
    the one list of its background jobs. It sits above the domains and only calls their services."""

    name = "apps.workspace"
    label = "workspace"

    def ready(self) -> None:
        from apps.accounts.permissions import Perm
        from apps.jobs.registry import job_kind_register

        # Whoever may read the audit log (tenant admins) may take the workspace's data out.
        job_kind_register(
            kind="tenant_export",
            label="Export the workspace",
            runner="apps.workspace.exports.tenant_export_run",
            permission=Perm.AUDIT_VIEW,
            queue="maintenance",
            time_limit=3600,
            retry_params=(),
            single_flight=True,
        )
