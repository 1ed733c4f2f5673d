from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"

    def ready(self):
        from django.core.signals import request_finished

        from apps.core import schema  # noqa: F401 - registers the OpenAPI authentication schemes
        from apps.core.structured_logging import request_context_clear

        request_finished.connect(request_context_clear, dispatch_uid="deeplens-log-context")
