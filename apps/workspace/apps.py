from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    """Running a workspace: its settings in one place (gathered from the domains that own them) and
    the one list of its background jobs. It sits above the domains and only calls their services."""

    name = "apps.workspace"
    label = "workspace"
