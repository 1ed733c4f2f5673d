"""Job moved to apps.jobs (its table and rows with it, apps/jobs/migrations/0001_initial.py): the
images app forgets it, without touching the database."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("images", "0009_job_kinds_search_and_duplicates"),
        ("jobs", "0001_initial"),
        # The search model's foreign key points at jobs.Job before images.Job leaves the state.
        ("search", "0003_job_moves_to_jobs_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Job")], database_operations=[]),
    ]
