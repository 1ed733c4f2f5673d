"""HNSW build options: listing each tenant's indexes with m and ef_construction, marking those the
settings no longer match, and rebuilding them (in a transaction: drop and create; outside one, as the
operator command runs: built concurrently under another name and swapped in)."""

import io

from django.core.management import call_command
from django_tenants.utils import tenant_context

from apps.search.services.index import vector_index_rebuild, vector_indexes_list
from apps.tenants.models import Tenant


def _descriptor_index():
    return next(index for index in vector_indexes_list() if index["model"] == "descriptor")


def test_indexes_are_listed_with_their_options_and_rebuilt_when_the_settings_change(alpha, settings):
    """(Also the first test of this module: it has the test database set up before the next one.)"""
    with tenant_context(alpha):
        before = _descriptor_index()
        settings.DEEPLENS_HNSW_M = before["m"] + 8
        stale = _descriptor_index()
        vector_index_rebuild(model="descriptor", dimensions=before["dimensions"])
        after = _descriptor_index()

    assert before["stale"] is False
    assert before["name"] == f"search_embedding_hnsw_descriptor_{before['dimensions']}"
    assert stale["stale"] is True
    assert (after["m"], after["stale"]) == (before["m"] + 8, False)


def test_the_command_rebuilds_stale_indexes_concurrently_and_leaves_the_rest(
    django_db_setup, django_db_blocker, settings
):
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="beta")
        original = settings.DEEPLENS_HNSW_EF_CONSTRUCTION
        try:
            listed, rebuilt, again = io.StringIO(), io.StringIO(), io.StringIO()
            call_command("search_indexes", "beta", stdout=listed)
            settings.DEEPLENS_HNSW_EF_CONSTRUCTION = original + 16
            call_command("search_indexes", "beta", "--rebuild", stdout=rebuilt)
            call_command("search_indexes", "beta", "--rebuild", stdout=again)
            with tenant_context(tenant):
                after = _descriptor_index()
        finally:
            settings.DEEPLENS_HNSW_EF_CONSTRUCTION = original
            call_command("search_indexes", "beta", "--rebuild", stdout=io.StringIO())

    assert f"ef_construction={original} " in listed.getvalue() and "(stale)" not in listed.getvalue()
    assert "(stale)" in rebuilt.getvalue() and "rebuilt" in rebuilt.getvalue()
    assert "(stale)" not in again.getvalue() and "rebuilt" not in again.getvalue()
    assert (after["ef_construction"], after["stale"]) == (original + 16, False)
    assert not after["name"].endswith("_new")
