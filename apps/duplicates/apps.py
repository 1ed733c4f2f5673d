from django.apps import AppConfig


class DuplicatesConfig(AppConfig):
    name = "apps.duplicates"
    label = "duplicates"

    def ready(self):
        from apps.duplicates.services.indexing import index_enqueue, index_sweep
        from apps.images import pipeline

        # Index and detect run as one task (apps/duplicates/tasks.py); detect only reports status.
        pipeline.stage_connect("index", on_ready=index_enqueue, on_drained=index_sweep, sweep=index_sweep)
        pipeline.stage_connect("detect")
