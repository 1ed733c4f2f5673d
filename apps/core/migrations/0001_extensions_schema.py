"""pgvector lives in its own `extensions` schema, which every tenant's search path includes.

On a managed server where the role may not create extensions, create it once as a superuser:
CREATE SCHEMA extensions; CREATE EXTENSION vector SCHEMA extensions;
"""

from django.db import migrations


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        migrations.RunSQL(
            sql=[
                "CREATE SCHEMA IF NOT EXISTS extensions",
                "GRANT USAGE ON SCHEMA extensions TO PUBLIC",
                "CREATE EXTENSION IF NOT EXISTS vector SCHEMA extensions",
            ],
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
