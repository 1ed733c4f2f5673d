"""Images indexed before stage rows existed: their index and detect stages are done (the sweep
would otherwise index the whole library again after the upgrade)."""

from django.db import migrations

BACKFILL = """
INSERT INTO images_imagestage (image_id, stage, state, attempts, retryable, reason, claimed_by,
                               started_at, finished_at, duration_ms, updated_at)
SELECT s.image_id, stage.name, 'done', 1, false, '', '', NULL, now(), NULL, now()
FROM duplicates_signature s CROSS JOIN (VALUES ('index'), ('detect')) AS stage(name)
ON CONFLICT (image_id, stage) DO NOTHING
"""


class Migration(migrations.Migration):
    dependencies = [
        ("duplicates", "0002_open_group_indexes"),
        ("images", "0011_pipeline_stages"),
    ]

    operations = [migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
