"""The queries the product runs can use the tenant's HNSW indexes (same expression, same predicate)."""

import numpy as np
import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from pgvector import HalfVector

from apps.core.prepared import numbered
from apps.search.selectors import HASH_NEIGHBOURS_SQL, INDEX_FIRST_SQL, NEIGHBOURS_SQL
from tests.support.plans import generic_plan

pytestmark = pytest.mark.django_db


def plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    "columns, joins",
    [("", ""), (", s.phashes", " LEFT JOIN duplicates_signature s ON s.image_id = e.image_id")],
    ids=["neighbours", "with_their_phashes"],
)
def test_the_vector_query_uses_the_models_hnsw_index_in_the_tenant_schema(search_world, columns, joins):
    query = HalfVector(np.ones(231, dtype=np.float32) / np.sqrt(231)).to_text()
    sql = NEIGHBOURS_SQL.format(
        dim=231, model="descriptor", exclude="", filters="", columns=columns, joins=joins, limit=10
    )
    with tenant_context(search_world["gamma"].tenant):
        text = plan(sql, [query, "wf1", query])

    assert "search_embedding_hnsw_descriptor_231" in text


def test_the_prepared_vector_query_keeps_the_index_in_its_generic_plan(search_world):
    """A search prepares the neighbours query once per session: the plan PostgreSQL keeps for it,
    made without the parameters' values, still walks the HNSW index (the LIMIT is in the text)."""
    query = HalfVector(np.ones(231, dtype=np.float32) / np.sqrt(231)).to_text()
    sql = NEIGHBOURS_SQL.format(
        dim=231,
        model="descriptor",
        exclude=" AND e.image_id <> %s",
        filters="",
        columns="",
        joins="",
        limit=100,
    )
    with tenant_context(search_world["gamma"].tenant):
        text = generic_plan(
            sql,
            [query, "wf1", "00000000-0000-0000-0000-000000000000", query],
            ["halfvec", "text", "uuid", "halfvec"],
        )

    assert "search_embedding_hnsw_descriptor_231" in text


def test_a_small_collection_is_still_searched_through_the_index(search_world):
    """For a collection of a few hundred images (here 14, analysed), the planner's costs prefer
    reading every row to the index in the plan a prepared search keeps; unfiltered searches send
    INDEX_FIRST_SQL with the query, and walk the index."""
    query = HalfVector(np.ones(231, dtype=np.float32) / np.sqrt(231)).to_text()
    sql = NEIGHBOURS_SQL.format(
        dim=231,
        model="descriptor",
        exclude="",
        filters="",
        columns=", s.phashes",
        joins=" LEFT JOIN duplicates_signature s ON s.image_id = e.image_id",
        limit=100,
    )

    def explain(before: str) -> str:
        with tenant_context(search_world["gamma"].tenant), connection.cursor() as cursor:
            # all inside this test's transaction, so rolled back with it
            cursor.execute("ANALYZE search_embedding, images_image, duplicates_signature")
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute(f"PREPARE small_probe (halfvec, text, halfvec) AS {numbered(sql)}")
            if before:
                cursor.execute(before)  # set_config(..., true): until the transaction ends
            try:
                cursor.execute("EXPLAIN EXECUTE small_probe (%s, %s, %s)", [query, "wf1", query])
                return "\n".join(row[0] for row in cursor.fetchall())
            finally:
                cursor.execute("DEALLOCATE small_probe")

    assert "search_embedding_hnsw_descriptor_231" not in explain("")
    assert "search_embedding_hnsw_descriptor_231" in explain(INDEX_FIRST_SQL)


def test_the_hash_query_uses_the_hamming_index(search_world):
    with tenant_context(search_world["gamma"].tenant):
        text = plan(HASH_NEIGHBOURS_SQL, [-5, "00000000-0000-0000-0000-000000000000", -5, 10])

    assert "images_image_phash_hamming" in text
