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
            retry_params=(),
            single_flight=True,
        )
        job_kind_register(
            kind="duplicates_resolve_all",
            label="Resolve all duplicate groups",
            runner="apps.duplicates.services.review.resolve_all_run",
            permission=Perm.DUPLICATES_MANAGE,
            queue="maintenance",
            retry_params=("kind", "policy", "merge_tags"),
        )
        job_kind_register(
            kind="duplicates_remove_identical",
            label="Remove identical copies",
            runner="apps.duplicates.services.identical.identical_remove_run",
            permission=Perm.DUPLICATES_MANAGE,
            queue="maintenance",
            retry_params=(),
        )
        job_kind_register(
            kind="duplicates_rerank",
            label="Re-rank open groups by the keeper policy",
            runner="apps.duplicates.services.policy.rerank_run",
            permission=Perm.DUPLICATES_MANAGE,
            queue="maintenance",
        )
        job_kind_register(
            kind="duplicates_similar_regroup",
            label="Group visually similar images again",
            runner="apps.duplicates.services.similar.similar_regroup_run",
            permission=Perm.DUPLICATES_MANAGE,
            queue="maintenance",
        )

        from apps.duplicates.services.indexing import index_enqueue, index_sweep
        from apps.duplicates.services.review import image_groups_refresh
        from apps.images import pipeline

        # Index and detect run as one task (apps/duplicates/tasks.py); detect only reports status,
        # and keeps the open groups of images that go to the trash or come back up to date.
        pipeline.stage_connect("index", on_ready=index_enqueue, on_drained=index_sweep, sweep=index_sweep)
        pipeline.stage_connect("detect", on_changed=lambda ids: image_groups_refresh(image_ids=ids))

        from apps.duplicates.services.similar import similar_after_embed
        from apps.search.services.embedding import embeddings_stored_connect

        # similar grouping runs once an image's embedding by the active model is stored
        embeddings_stored_connect(similar_after_embed)
