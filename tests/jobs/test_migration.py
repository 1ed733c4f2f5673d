"""The move of Job from apps.images to apps.jobs keeps the rows of a tenant that already has jobs:
a schema migrated to before the move, with jobs in images_job and a search model pointing at one,
then migrated forward."""

import uuid

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("images", "0009_job_kinds_search_and_duplicates"), ("search", "0002_indexes")]
AFTER = [
    ("jobs", "0001_initial"),
    ("search", "0003_job_moves_to_jobs_app"),
    ("images", "0010_job_moves_to_jobs_app"),
]


def _tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_name LIKE %s",
            [schema, "%job"],
        )
        return {row[0] for row in cursor.fetchall()}


def test_jobs_in_images_job_move_with_their_ids(django_db_setup, django_db_blocker):
    schema = f"test_move_{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema}"')
        try:
            connection.set_schema(schema)
            executor = MigrationExecutor(connection)
            executor.migrate(BEFORE)
            old = executor.loader.project_state(BEFORE).apps
            OldJob = old.get_model("images", "Job")
            scan = OldJob.objects.create(
                kind="storage_scan", state="running", params={"location_id": "x", "cursor": "k"}, processed=7
            )
            embed = OldJob.objects.create(
                kind="search_embed", state="done", params={"model": "clip"}, total=4
            )
            old.get_model("search", "SearchModel").objects.create(key="clip", is_active=True, job_id=embed.pk)
            assert _tables(schema) == {"images_job"}

            executor = MigrationExecutor(connection)
            executor.migrate(AFTER)
            new = executor.loader.project_state(AFTER).apps
            Job = new.get_model("jobs", "Job")

            assert _tables(schema) == {"jobs_job"}
            assert {
                str(j.pk): (j.kind, j.state, j.params, j.processed, j.total, j.attempts)
                for j in Job.objects.all()
            } == {
                str(scan.pk): ("storage_scan", "running", {"location_id": "x", "cursor": "k"}, 7, 0, 0),
                str(embed.pk): ("search_embed", "done", {"model": "clip"}, 0, 4, 0),
            }
            model = new.get_model("search", "SearchModel").objects.select_related("job").get(key="clip")
            assert model.job.pk == embed.pk
            assert "job" not in new.all_models["images"]
        finally:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
