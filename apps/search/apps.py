from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "apps.search"
    label = "search"

    def ready(self):
        from apps.images import pipeline
        from apps.search.services.models import after_processing, embed_stage_names

        pipeline.stage_connect("embed", on_ready=after_processing, variants=embed_stage_names)
