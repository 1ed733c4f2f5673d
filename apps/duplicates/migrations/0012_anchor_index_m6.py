"""The anchors' HNSW graph rebuilt sparser again (m 6, ef_construction 24): cheaper inserts on the
index stage, a smaller index, the same pairs found (apps/duplicates/models.py Anchor). The new index
is built before the old one goes, so detection always has one."""

import pgvector.django.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("duplicates", "0011_anchor_index_sparser"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="anchor",
            index=pgvector.django.indexes.HnswIndex(
                ef_construction=24,
                fields=["descriptor"],
                m=6,
                name="anchor_descriptor_hnsw_m6",
                opclasses=["bit_hamming_ops"],
            ),
        ),
        migrations.RemoveIndex(
            model_name="anchor",
            name="anchor_descriptor_hnsw_m8",
        ),
    ]
