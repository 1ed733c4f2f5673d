"""The anchor search is a prepared statement (planned once per database session): the plan
PostgreSQL keeps for it, made without the parameters' values, still walks the anchors' HNSW index."""

import pytest
from django_tenants.utils import tenant_context

from apps.duplicates.candidates import ANCHORS_SQL
from apps.duplicates.models import Anchor
from tests.support.plans import generic_plan

pytestmark = pytest.mark.django_db


def test_the_prepared_anchor_search_keeps_the_index_in_its_generic_plan(alpha):
    with tenant_context(alpha):  # an empty table here: generic_plan turns sequential scans off
        text = generic_plan(
            ANCHORS_SQL.format(table=Anchor._meta.db_table),
            [["0" * 256, "1" * 256], "00000000-0000-0000-0000-000000000000", 30],
            ["text[]", "uuid", "int"],
        )

    assert "anchor_descriptor_hnsw_m6" in text
