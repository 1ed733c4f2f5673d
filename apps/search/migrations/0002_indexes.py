from django.db import migrations

from apps.search.services.index import HASH_INDEX_SQL, vector_index_ensure

# The descriptor's dimensions at VERSION wf1; a descriptor with other dimensions ships its own migration.
DESCRIPTOR_DIMENSIONS = 231


def descriptor_index(apps, schema_editor):
    vector_index_ensure(model="descriptor", dimensions=DESCRIPTOR_DIMENSIONS, schema_editor=schema_editor)


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [
        migrations.RunPython(descriptor_index, migrations.RunPython.noop),
        migrations.RunSQL(HASH_INDEX_SQL, "DROP INDEX IF EXISTS images_image_phash_hamming"),
    ]
