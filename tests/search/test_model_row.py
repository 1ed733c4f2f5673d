"""A search by CLIP or ResNet reads the model's row (its version) through the process cache, as it
reads which models are switched on: once per DEEPLENS_PROCESS_CACHE_SECONDS, per tenant."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from apps.search.models import SearchModel
from apps.search.services.models import search_model_row


def test_the_row_is_read_once_while_cached_and_each_tenant_reads_its_own(alpha, beta, settings):
    settings.DEEPLENS_PROCESS_CACHE_SECONDS = 5
    with tenant_context(alpha):
        SearchModel.objects.update_or_create(key="clip", defaults={"is_active": True, "version": "alpha-v1"})
    with tenant_context(beta):
        SearchModel.objects.update_or_create(key="clip", defaults={"is_active": True, "version": "beta-v1"})

    with tenant_context(alpha), CaptureQueriesContext(connection) as reads:
        assert search_model_row("clip").version == "alpha-v1"
        assert search_model_row("clip").version == "alpha-v1"
    assert len([q for q in reads.captured_queries if "search_searchmodel" in q["sql"]]) == 1
    with tenant_context(beta):
        assert search_model_row("clip").version == "beta-v1"


def test_without_the_cache_a_change_shows_at_once(alpha, settings):
    settings.DEEPLENS_PROCESS_CACHE_SECONDS = 0
    with tenant_context(alpha):
        SearchModel.objects.update_or_create(key="clip", defaults={"is_active": True, "version": "v1"})
        assert search_model_row("clip").version == "v1"
        SearchModel.objects.filter(key="clip").update(version="v2")
        assert search_model_row("clip").version == "v2"
