"""/metrics: who may read it, on which hosts, and what DeepLens's own metrics show."""

import re

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

import celery_app
from apps.accounts.models import ApiKeyScope, Role
from apps.core.metrics import EXPORTED_METRICS, duplicates_forget, duplicates_report
from apps.core.redis import get_redis
from apps.usage.ratelimit import EndpointClass
from tests.api import Api, api_key_for, bearer_for, host
from tests.imagefiles import jpeg, truncated_jpeg
from tests.images.conftest import process, upload
from tests.usage.conftest import set_limits


def sample(body: str, name: str, labels: str = "") -> float:
    """The value of one sample in the exposition text; 0 when absent."""
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"(?:\{\})?") + r" (\S+)"
    match = re.search("^" + pattern + "$", body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def scrape(api: Api) -> str:
    response = api.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.parametrize("on_tenant_host", [False, True])
def test_a_global_admin_reads_metrics_on_the_public_and_tenant_hosts(users, alpha, on_tenant_host):
    api = Api(host(alpha if on_tenant_host else None), bearer_for(users["global"]))

    body = scrape(api)

    assert "deeplens_queue_depth{" in body
    assert "deeplens_database_up 1.0" in body
    assert "django_http_requests_total_by_method_total" in body


@pytest.mark.parametrize("scope", [ApiKeyScope.METRICS, ApiKeyScope.ADMIN, ApiKeyScope.SEARCH])
@pytest.mark.parametrize("on_tenant_host", [False, True])
def test_no_tenant_api_key_reads_the_installations_metrics(users, alpha, scope, on_tenant_host):
    # Issue 17 item 8: a tenant's metrics key read the installation-wide figures.
    key = api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=[scope])

    refused = Api(host(alpha if on_tenant_host else None), key).get("/metrics")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert b"deeplens_" not in refused.content


def test_tenant_roles_are_refused(users, alpha):
    for role in (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER):
        assert Api(host(alpha), bearer_for(users[role])).get("/metrics").status_code == 403


def test_anonymous_callers_get_401_and_a_key_of_another_tenant_403(users, alpha, beta):
    anonymous = Api(host(None)).get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert Api(host(alpha)).get("/metrics").status_code == 401
    alpha_key = api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=[ApiKeyScope.METRICS])
    assert Api(host(beta), alpha_key).get("/metrics").status_code == 403


def test_an_allow_listed_network_scrapes_without_a_credential(db):
    with override_settings(DEEPLENS_METRICS_ALLOW_NETWORKS=["10.1.0.0/16"]):
        allowed = Api(host(None), REMOTE_ADDR="10.1.2.3").get("/metrics")
        refused = Api(host(None), REMOTE_ADDR="10.2.0.1").get("/metrics")

    assert allowed.status_code == 200
    assert refused.status_code == 401


def test_an_allow_listed_scraper_is_answered_before_tenant_routing_on_any_host_name(db):
    with override_settings(DEEPLENS_METRICS_ALLOW_NETWORKS=["10.1.0.0/16"]):
        internal = Api("web:8000", REMOTE_ADDR="10.1.2.3").get("/metrics")
        outsider = Api("web:8000", REMOTE_ADDR="10.2.0.1").get("/metrics")

    assert internal.status_code == 200
    assert "deeplens_database_up 1.0" in internal.content.decode()
    assert outsider.status_code == 404  # an unknown host, as for any other path


def test_processing_counts_ingested_and_failed_images_and_times_each_stage(users, alpha):
    api = Api(host(None), bearer_for(users["global"]))
    before = scrape(api)
    member = Api(host(alpha), bearer_for(users[Role.MEMBER]))
    good = upload(member, "good.jpg", jpeg(800, 600)).json()["id"]
    bad = upload(member, "bad.jpg", truncated_jpeg()).json()["id"]

    assert process(alpha, good).status == "ready"
    assert process(alpha, bad).status == "failed"
    after = scrape(api)

    def delta(name, labels=""):
        return sample(after, name, labels) - sample(before, name, labels)

    assert delta("deeplens_images_ingested_total") == 1
    assert delta("deeplens_images_failed_total", 'stage="decode"') == 1
    for stage in ("decode", "thumbnails", "hashes"):
        assert delta("deeplens_stage_duration_seconds_count", f'stage="{stage}"') == 1
    assert delta("deeplens_stage_duration_seconds_count", 'stage="total"') == 1


def test_queue_depth_is_read_from_redis_at_scrape_time(users, monkeypatch):
    monkeypatch.setattr(celery_app, "QUEUES", ("test-depth-a", "test-depth-b"))
    redis = get_redis()
    redis.delete("test-depth-a", "test-depth-b")
    redis.rpush("test-depth-a", "x", "y", "z")
    try:
        body = scrape(Api(host(None), bearer_for(users["global"])))
    finally:
        redis.delete("test-depth-a")

    assert sample(body, "deeplens_queue_depth", 'queue="test-depth-a"') == 3
    assert sample(body, "deeplens_queue_depth", 'queue="test-depth-b"') == 0
    assert 'queue="test-depth-b"' in body


def test_duplicate_figures_add_up_over_tenants_without_a_tenant_label(users):
    """Other tenants of the run (the search tests' committed ones) report their own figures: what
    alpha and beta add is measured against the page without them."""
    api = Api(host(None), bearer_for(users["global"]))
    duplicates_forget(tenant_slug="alpha")
    duplicates_forget(tenant_slug="beta")
    before = scrape(api)
    duplicates_report(tenant_slug="alpha", groups=3, reclaimable_bytes=1000)
    duplicates_report(tenant_slug="beta", groups=2, reclaimable_bytes=500)
    try:
        body = scrape(api)
    finally:
        duplicates_forget(tenant_slug="alpha")
        duplicates_forget(tenant_slug="beta")

    assert "deeplens_duplicate_groups{" not in body  # no tenant label
    assert sample(body, "deeplens_duplicate_groups") - sample(before, "deeplens_duplicate_groups") == 5
    assert (
        sample(body, "deeplens_duplicate_reclaimable_bytes")
        - sample(before, "deeplens_duplicate_reclaimable_bytes")
        == 1500
    )


def test_rate_limit_rejections_are_counted_by_endpoint_class_and_scope(users, alpha):
    admin = Api(host(None), bearer_for(users["global"]))
    labels = 'endpoint_class="general",scope="tenant"'
    before = sample(scrape(admin), "deeplens_rate_limit_rejections_total", labels)
    set_limits(alpha, requests_per_minute=1)
    member = Api(host(alpha), bearer_for(users[Role.MEMBER]))

    codes = [member.get("images").status_code for _ in range(3)]

    # The window may already hold requests of earlier tests: at least the last two are refused.
    assert codes[1:] == [429, 429]
    refused = codes.count(429)
    assert sample(scrape(admin), "deeplens_rate_limit_rejections_total", labels) - before == refused


def test_every_exported_metric_name_appears_on_the_page(users):
    from apps.core.metrics import embeddings_record, rate_limit_rejection_record, search_observe

    embeddings_record(count=8, seconds=0.5, model="test")
    search_observe(kind="image", seconds=0.02)
    rate_limit_rejection_record(endpoint_class=str(EndpointClass.SEARCH), scope="tenant_search")
    body = scrape(Api(host(None), bearer_for(users["global"])))

    missing = [name for name in EXPORTED_METRICS if f"\n{name}" not in body and f"\n{name}_" not in body]
    assert missing == []


def test_embeddings_are_counted_by_model_with_batch_durations(users, alpha):
    from PIL import Image as PILImage

    from apps.duplicates.services import image_detect
    from apps.search.embedders.descriptor import DescriptorEmbedder
    from apps.search.services.embedding import embed_stream

    api = Api(host(None), bearer_for(users["global"]))
    member = Api(host(alpha), bearer_for(users[Role.MEMBER]))
    image_id = upload(member, "e.jpg", jpeg(640, 480)).json()["id"]
    process(alpha, image_id)
    before = scrape(api)

    with tenant_context(alpha):
        image_detect(image_id=image_id)  # the index stage computes the descriptor
    images = [PILImage.new("RGB", (64, 48), (n * 40, 90, 200)) for n in range(5)]
    batches = list(embed_stream(DescriptorEmbedder(), images, lambda image: image, batch=2))
    after = scrape(api)

    def delta(name):
        return sample(after, name, 'model="descriptor"') - sample(before, name, 'model="descriptor"')

    assert [len(vectors) for _items, vectors in batches] == [2, 2, 1]
    assert delta("deeplens_embeddings_total") == 1 + 5
    assert delta("deeplens_embedding_batch_duration_seconds_count") == 1 + 3


def test_each_tenants_open_groups_are_reported_for_the_gauges(users, alpha):
    from apps.core.metrics import DUPLICATES_KEY
    from apps.duplicates.models import Group
    from apps.duplicates.services import image_detect
    from apps.duplicates.tasks import duplicates_metrics_task

    member = Api(host(alpha), bearer_for(users[Role.MEMBER]))
    data = jpeg(800, 600, seed=3)
    ids = [upload(member, f"copy{n}.jpg", data).json()["id"] for n in range(2)]
    for image_id in ids:
        process(alpha, image_id)
    with tenant_context(alpha):
        for image_id in ids:
            image_detect(image_id=image_id)
        group = Group.objects.get()
    redis = get_redis()
    try:
        reported = duplicates_metrics_task.apply().get()
        groups = redis.hget(f"{DUPLICATES_KEY}:groups", "alpha")
        reclaimable = redis.hget(f"{DUPLICATES_KEY}:reclaimable_bytes", "alpha")
        beta_groups = redis.hget(f"{DUPLICATES_KEY}:groups", "beta")
    finally:
        duplicates_forget(tenant_slug="alpha")
        duplicates_forget(tenant_slug="beta")

    assert reported >= 2  # every active tenant
    assert (int(groups), int(reclaimable)) == (1, group.reclaimable_bytes)
    assert group.reclaimable_bytes > 0
    assert int(beta_groups) == 0
