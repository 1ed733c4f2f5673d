"""The queries the product runs can use the tenant's HNSW indexes (same expression, same predicate)."""

import numpy as np
import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from pgvector import HalfVector

from apps.search.selectors import HASH_NEIGHBOURS_SQL, INDEX_FIRST, NEIGHBOURS_SQL
from tests.support.plans import generic_plan

pytestmark = pytest.mark.django_db


def plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


QUERY = HalfVector(np.ones(231, dtype=np.float32) / np.sqrt(231)).to_text()
PHASHES = {"columns": ", s.phashes", "joins": " LEFT JOIN duplicates_signature s ON s.image_id = e.image_id"}


def neighbours_sql(**parts) -> str:
    """NEIGHBOURS_SQL for the descriptor, unfiltered, with `parts` in place of the defaults."""
    return NEIGHBOURS_SQL.format(
        **{
            "dim": 231,
            "model": "descriptor",
            "exclude": "",
            "filters": "",
            "columns": "",
            "joins": "",
            "limit": 10,
        }
        | parts
    )


@pytest.mark.parametrize("parts", [{}, PHASHES], ids=["neighbours", "with_their_phashes"])
def test_the_vector_query_uses_the_models_hnsw_index_in_the_tenant_schema(search_world, parts):
    with tenant_context(search_world["gamma"].tenant):
        text = plan(neighbours_sql(**parts), [QUERY, "wf1", QUERY])

    assert "search_embedding_hnsw_descriptor_231" in text


def test_the_prepared_vector_query_keeps_the_index_in_its_generic_plan(search_world):
    """A search prepares the neighbours query once per session: the plan PostgreSQL keeps for it,
    made without the parameters' values, still walks the HNSW index (the LIMIT is in the text)."""
    sql = neighbours_sql(exclude=" AND e.image_id <> %s", limit=100)
    with tenant_context(search_world["gamma"].tenant):
        text = generic_plan(
            sql,
            [QUERY, "wf1", "00000000-0000-0000-0000-000000000000", QUERY],
            ["halfvec", "text", "uuid", "halfvec"],
        )

    assert "search_embedding_hnsw_descriptor_231" in text


def test_a_small_collection_is_still_searched_through_the_index(search_world):
    """For a collection of a few hundred images (here 14, analysed), the planner's costs prefer
    reading every row to the index in the plan a prepared search keeps; unfiltered searches send
    INDEX_FIRST's settings with the query, and walk the index."""
    sql = neighbours_sql(limit=100, **PHASHES)

    def kept_plan(before: str) -> str:
        with tenant_context(search_world["gamma"].tenant):
            with connection.cursor() as cursor:  # in this test's transaction: rolled back with it
                cursor.execute("ANALYZE search_embedding, images_image, duplicates_signature")
            return generic_plan(sql, [QUERY, "wf1", QUERY], ["halfvec", "text", "halfvec"], before=before)

    assert "search_embedding_hnsw_descriptor_231" not in kept_plan("")
    assert "search_embedding_hnsw_descriptor_231" in kept_plan(f"SELECT {INDEX_FIRST}")


def test_the_hash_query_uses_the_hamming_index(search_world):
    with tenant_context(search_world["gamma"].tenant):
        text = plan(HASH_NEIGHBOURS_SQL, [-5, "00000000-0000-0000-0000-000000000000", -5, 10])

    assert "images_image_phash_hamming" in text
