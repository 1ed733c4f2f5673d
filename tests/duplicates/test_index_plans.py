"""The anchor search is a prepared statement (planned once per database session): the plan
PostgreSQL keeps for it, made without the parameters' values, still walks the anchors' HNSW index."""

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.duplicates.candidates import ANCHORS_SQL
from apps.duplicates.models import Anchor

pytestmark = pytest.mark.django_db


def test_the_prepared_anchor_search_keeps_the_index_in_its_generic_plan(alpha):
    body = ANCHORS_SQL.format(table=Anchor._meta.db_table).replace("%s", "$1", 1).replace("%s", "$2", 1)
    body = body.replace("%s", "$3", 1)
    with tenant_context(alpha), connection.cursor() as cursor:
        cursor.execute(f"PREPARE anchors_generic (text[], uuid, int) AS {body}")
        try:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute("SET LOCAL enable_seqscan = off")  # an empty table here
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute(
                "EXPLAIN EXECUTE anchors_generic (%s, %s, %s)",
                [["0" * 256, "1" * 256], "00000000-0000-0000-0000-000000000000", 30],
            )
            text = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE anchors_generic")

    assert "anchor_descriptor_hnsw_m6" in text
