from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "apps.search"
    label = "search"

    def ready(self) -> None:
        from apps.accounts.permissions import Perm
        from apps.jobs.registry import job_kind_register

        job_kind_register(
            kind="search_embed",
            label="Embed the collection for a search model",
            runner="apps.search.services.models.embed_job_run",
            permission=Perm.IMAGES_VIEW,
            manage_permission=Perm.SEARCH_MANAGE,
            queue="embed",
            retry_params=("model",),
        )

        from apps.images import pipeline
        from apps.search.services.models import after_processing, embed_stage_names, embed_sweep

        pipeline.stage_connect(
            "embed", on_ready=after_processing, sweep=embed_sweep, variants=embed_stage_names
        )
