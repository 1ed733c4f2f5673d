"""Similarity search with the built-in descriptor, end to end: uploads through the API, processing
and the descriptor in the real worker, search through the API; tenants apart; bad input refused."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.images.models import Image
from apps.images.services.lifecycle import image_purge
from apps.search.models import Embedding
from tests.imagefiles import BENCH_IMAGES, SVG
from tests.search.conftest import committed, upload, wait_job, wait_ready

pytestmark = pytest.mark.django_db


def _purge(tenant, image_id):
    with tenant_context(tenant):
        image_purge(image=Image.objects.get(pk=image_id), actor=Actor.system(), tenant=tenant)


def similar(api, **body):
    return api.post("search/similarity", body)


def test_every_processed_image_has_a_descriptor_embedding(search_world):
    gamma = search_world["gamma"]
    with tenant_context(gamma.tenant):
        rows = Embedding.objects.filter(image_id__in=list(gamma.ids.values()), model="descriptor")
        assert rows.count() == len(gamma.ids) == 14
        assert {(row.version, row.dimensions) for row in rows} == {("wf1", 231)}


def test_a_copy_finds_its_original_first(search_world):
    gamma = search_world["gamma"]
    found = {}
    for original, copies in search_world["copies"].items():
        for copy, transform in copies:
            response = similar(gamma.viewer, image_id=gamma.ids[copy], max_results=20)
            assert response.status_code == 200, response.content
            results = response.json()["results"]
            originals_ranked = [
                r["image_id"]
                for r in results
                if r["image_id"] in {gamma.ids[o] for o in search_world["originals"]}
            ]
            found[(original, transform)] = originals_ranked[0] == gamma.ids[original]
    assert sum(found.values()) >= len(found) - 1, (
        found
    )  # 8 copies: flips, strong crops, quarter turns, borders


def test_the_response_has_the_seeds_shape(search_world):
    gamma = search_world["gamma"]
    original = search_world["originals"][0]

    response = similar(gamma.viewer, image_id=gamma.ids[original], max_results=3, include_metadata=True)

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {
        "query_id",
        "results",
        "total_results",
        "total_exact",
        "shown",
        "has_more",
        "verified_results",
        "processing_time_ms",
        "model",
        "cached",
    }
    assert body["model"] == "descriptor"
    assert body["shown"] == len(body["results"]) == 3
    first = body["results"][0]
    assert set(first) == {
        "image_id",
        "similarity_score",
        "match",
        "verified_by",
        "confidence",
        "duplicate_count",
        "duplicates",
        "file_path",
        "storage_location",
        "metadata",
        "thumbnail_url",
    }
    assert first["image_id"] != gamma.ids[original]  # the query image itself is left out
    assert 0 <= first["similarity_score"] <= 1
    assert first["storage_location"] == "Local files"
    assert first["file_path"].startswith("search-gamma/images/")
    assert first["thumbnail_url"] == f"/api/v1/images/{first['image_id']}/thumbnail?spec=small"
    assert first["metadata"]["tags"] == ["bench"]
    scores = [r["similarity_score"] for r in body["results"] if r["match"] == "similar"]
    assert scores == sorted(scores, reverse=True)


def test_threshold_cuts_off_and_sort_by_date_keeps_the_same_set(search_world):
    gamma = search_world["gamma"]
    query = gamma.ids[search_world["originals"][0]]
    everything = similar(gamma.viewer, image_id=query, max_results=100, min_confidence=0).json()["results"]
    similar_only = [r for r in everything if r["match"] == "similar"]
    cutoff = similar_only[2]["similarity_score"]

    above = similar(
        gamma.viewer, image_id=query, max_results=100, similarity_threshold=cutoff, min_confidence=0
    ).json()
    by_date = similar(
        gamma.viewer,
        image_id=query,
        max_results=100,
        similarity_threshold=cutoff,
        min_confidence=0,
        sort="-date",
    ).json()

    assert len(everything) == 13
    # The threshold cuts the similar; verified matches stay whatever their score.
    assert [r["image_id"] for r in above["results"]] == [
        r["image_id"] for r in everything if r["match"] != "similar" or r["similarity_score"] >= cutoff
    ]
    assert {r["image_id"] for r in by_date["results"]} == {r["image_id"] for r in above["results"]}


def test_filters_narrow_the_candidates(search_world):
    gamma = search_world["gamma"]
    query = gamma.ids[search_world["originals"][0]]

    pngs = similar(gamma.viewer, image_id=query, filters={"format": ["png"]}, min_confidence=0).json()[
        "results"
    ]
    tagged = similar(gamma.viewer, image_id=query, filters={"tags": ["nope"]}).json()["results"]

    with tenant_context(gamma.tenant):
        png_ids = {str(pk) for pk in Image.objects.filter(format="png").values_list("pk", flat=True)} - {
            query
        }
    assert {r["image_id"] for r in pngs} == png_ids
    assert tagged == []


def test_search_by_upload_finds_the_stored_original(search_world):
    gamma = search_world["gamma"]
    original = search_world["originals"][1]

    response = gamma.viewer.client.post(
        "/api/v1/search/similarity",
        {"image": SimpleUploadedFile("q.jpg", (BENCH_IMAGES / original).read_bytes()), "max_results": "5"},
        **gamma.viewer.headers,
    )

    assert response.status_code == 200, response.content
    top = response.json()["results"][0]
    assert top["image_id"] == gamma.ids[original]
    assert top["similarity_score"] > 0.99


def test_two_tenants_with_identical_images_see_only_their_own(search_world):
    gamma, delta = search_world["gamma"], search_world["delta"]
    original = search_world["originals"][0]

    in_delta = similar(delta.viewer, image_id=delta.ids[original], max_results=100, min_confidence=0).json()[
        "results"
    ]
    in_gamma = similar(gamma.viewer, image_id=gamma.ids[original], max_results=100, min_confidence=0).json()[
        "results"
    ]
    cross = similar(delta.viewer, image_id=gamma.ids[original])

    assert {r["image_id"] for r in in_delta} == {delta.ids[search_world["originals"][1]]}
    assert not {r["image_id"] for r in in_gamma} & set(delta.ids.values())
    assert cross.status_code == 404
    assert cross.json()["error"]["code"] == "image_not_found"


def test_results_are_cached_per_tenant_and_invalidated_when_the_index_changes(search_world):
    delta = search_world["delta"]
    query = delta.ids[search_world["originals"][0]]
    first = similar(
        delta.viewer, image_id=query, max_results=37, min_confidence=0
    ).json()  # options no other test uses
    second = similar(delta.viewer, image_id=query, max_results=37, min_confidence=0).json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert second["results"] == first["results"]

    def add():
        new = upload(delta.member, BENCH_IMAGES / search_world["originals"][2])
        wait_ready(delta.tenant, [new])
        return new

    new_id = committed(add)
    after = similar(delta.viewer, image_id=query, max_results=37, min_confidence=0).json()

    assert after["cached"] is False
    assert new_id in {r["image_id"] for r in after["results"]}
    committed(lambda: _purge(delta.tenant, new_id))


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "invalid_search"),
        (
            {"image_id": "00000000-0000-0000-0000-000000000000", "url": "https://example.com/a.jpg"},
            400,
            "invalid_search",
        ),
        ({"image_id": "not-a-uuid"}, 400, None),
        ({"image_id": "00000000-0000-0000-0000-000000000000"}, 404, "image_not_found"),
        ({"image_id": "00000000-0000-0000-0000-000000000000", "similarity_threshold": 1.5}, 400, None),
        ({"image_id": "00000000-0000-0000-0000-000000000000", "max_results": 1001}, 400, None),
        ({"image_id": "00000000-0000-0000-0000-000000000000", "sort": "size"}, 400, None),
        ({"image_id": "00000000-0000-0000-0000-000000000000", "model": "clip"}, 404, "image_not_found"),
        ({"url": "http://127.0.0.1/x.jpg"}, 400, "url_not_allowed"),
        ({"url": "ftp://example.com/x.jpg"}, 400, None),
    ],
)
def test_bad_searches_get_a_clear_4xx(search_world, body, status, code):
    response = similar(search_world["gamma"].viewer, **body)

    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"image_id": "not-a-uuid"}, "image_id"),
        ({"url": "ftp://example.com/x.jpg"}, "url"),
        ({"vector": ["a"], "model": "descriptor"}, "vector"),
    ],
)
def test_a_bad_query_value_is_reported_under_its_field(search_world, body, field):
    response = similar(search_world["gamma"].viewer, **body)

    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["detail"]) == [field]


def test_an_upload_that_is_not_an_image_is_refused(search_world):
    api = search_world["gamma"].viewer
    response = api.client.post(
        "/api/v1/search/similarity", {"image": SimpleUploadedFile("x.svg", SVG)}, **api.headers
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_a_model_that_is_not_switched_on_is_refused(search_world):
    gamma = search_world["gamma"]
    query = gamma.ids[search_world["originals"][0]]

    by_model = similar(gamma.viewer, image_id=query, model="resnet50")
    text = gamma.viewer.get("search/text?q=a+dog&model=resnet50")

    assert by_model.status_code == 409
    assert by_model.json()["error"]["code"] == "model_unavailable"
    assert text.status_code == 409
    assert text.json()["error"]["code"] == "model_unavailable"


def test_text_search_without_a_text_model_says_so(search_world):
    response = search_world["delta"].viewer.get("search/text?q=a+dog")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_unavailable"
    assert "CLIP" in response.json()["error"]["message"]


def test_hash_search_finds_the_identical_image_at_distance_zero(search_world):
    delta = search_world["delta"]
    original = search_world["originals"][1]

    def add():
        new = upload(delta.member, BENCH_IMAGES / original)
        wait_ready(delta.tenant, [new])
        return new

    twin = committed(add)

    response = delta.viewer.get(f"search/hash?image_id={delta.ids[original]}&max_distance=4")

    assert response.status_code == 200, response.content
    assert response.json()["results"][0] == {
        "image_id": twin,
        "hamming_distance": 0,
        "thumbnail_url": f"/api/v1/images/{twin}/thumbnail?spec=small",
    }
    committed(lambda: _purge(delta.tenant, twin))


def test_the_model_list_says_what_is_available_and_why_not(search_world):
    response = search_world["delta"].viewer.get("search/models")

    models = {m["key"]: m for m in response.json()["models"]}
    assert models["descriptor"]["active"] is True
    assert models["descriptor"]["available"] is True
    assert models["descriptor"]["dimensions"] == 231
    assert models["resnet50"]["available"] is False
    assert "DEEPLENS_RESNET50_WEIGHTS" in models["resnet50"]["unavailable_reason"]


def test_members_cannot_switch_models_on(search_world):
    response = search_world["delta"].member.post("search/models/clip/activate")

    assert response.status_code == 403


def test_switching_on_a_model_without_weights_is_refused(search_world):
    response = search_world["delta"].admin.post("search/models/resnet50/activate")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "model_unavailable"


def test_activating_the_descriptor_backfills_images_that_lack_it(search_world):
    delta = search_world["delta"]
    image_id = delta.ids[search_world["originals"][0]]

    def drop():
        with tenant_context(delta.tenant):
            return Embedding.objects.filter(image_id=image_id, model="descriptor").delete()[0]

    assert committed(drop) == 1
    response = committed(lambda: delta.admin.post("search/models/descriptor/activate"))
    job = committed(lambda: wait_job(delta.tenant, response.json()["job_id"]))

    assert response.status_code == 202
    assert (job.state, job.processed, job.failed) == ("done", 1, 0)
    with tenant_context(delta.tenant):
        assert Embedding.objects.filter(image_id=image_id, model="descriptor", version="wf1").exists()


def test_search_by_url_fetches_with_the_url_import_rules(search_world, settings):
    import http.server
    import threading

    original = search_world["originals"][1]
    body = (BENCH_IMAGES / original).read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/q.jpg"
    gamma = search_world["gamma"]
    try:
        refused = similar(gamma.viewer, url=url)  # loopback: refused unless allow-listed
        settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]
        allowed = similar(gamma.viewer, url=url, max_results=3)
    finally:
        httpd.shutdown()

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "url_not_allowed"
    assert allowed.status_code == 200, allowed.content
    assert allowed.json()["results"][0]["image_id"] == gamma.ids[original]
