"""Search finds the picture: verified matches (identical bytes, copies duplicate detection verifies)
come first and are marked, a calibrated confidence with a meaningful default, honest totals,
collapsing duplicates of each other, and the seeds' request shapes (base64 image, storage locations
by name, a query vector, an image's vector, extraction without storing). Tenants and roles apart."""

import base64

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import ApiKeyScope, Role
from apps.audit.context import Actor
from apps.duplicates.models import GroupStatus, Member
from apps.images.models import Image
from apps.images.services.lifecycle import image_purge
from apps.search import confidence
from tests.api import Api, api_key_for, host
from tests.factories import UserFactory
from tests.imagefiles import BENCH_IMAGES, SVG
from tests.search.conftest import committed, detected, upload, wait_ready

pytestmark = pytest.mark.django_db


def similar(api, **body):
    return api.post("search/similarity", body)


def test_a_copy_finds_its_original_as_a_verified_match_before_the_similar(search_world):
    gamma = search_world["gamma"]
    originals = {gamma.ids[o] for o in search_world["originals"]}
    for original, copies in search_world["copies"].items():
        for copy, transform in copies:
            body = similar(gamma.viewer, image_id=gamma.ids[copy], max_results=20).json()
            results = body["results"]
            matches = [r["match"] for r in results]
            first_original = next(r for r in results if r["image_id"] in originals)

            assert first_original["image_id"] == gamma.ids[original], transform
            assert first_original["match"] == "same_picture", transform
            assert first_original["confidence"] == confidence.verified(first_original["verified_by"])
            assert matches == sorted(matches, key=lambda m: m == "similar"), transform  # verified first
            assert body["verified_results"] == sum(m != "similar" for m in matches)


def test_identical_bytes_are_marked_identical_with_full_confidence(search_world):
    delta = search_world["delta"]
    original = search_world["originals"][1]

    def add():
        twin = upload(delta.member, BENCH_IMAGES / original)
        wait_ready(delta.tenant, [twin])
        return twin

    twin = committed(add)
    detected(delta.tenant, [twin])

    first = similar(delta.viewer, image_id=delta.ids[original], max_results=5).json()["results"][0]

    assert (first["image_id"], first["match"], first["verified_by"], first["confidence"]) == (
        twin,
        "identical",
        "sha256",
        1.0,
    )
    committed(lambda: _purge(delta.tenant, twin))


def _purge(tenant, image_id):
    with tenant_context(tenant):
        image_purge(image=Image.objects.get(pk=image_id), actor=Actor.system(), tenant=tenant)


def test_the_default_threshold_shows_matches_and_the_clearly_similar_not_everything(search_world):
    gamma = search_world["gamma"]
    query = gamma.ids[search_world["originals"][0]]

    default = similar(gamma.viewer, image_id=query).json()
    everything = similar(gamma.viewer, image_id=query, min_confidence=0).json()

    assert everything["total_results"] == everything["shown"] == 13 and everything["total_exact"]
    assert default["total_results"] == default["shown"] < 13
    assert default["has_more"] is False
    shown = {r["image_id"] for r in default["results"]}
    assert {gamma.ids[c] for c, _t in search_world["copies"][search_world["originals"][0]]} <= shown
    assert all(
        r["match"] != "similar" or r["confidence"] >= confidence.DEFAULT_MIN_CONFIDENCE
        for r in default["results"]
    )
    assert all(0 <= r["confidence"] <= 1 for r in everything["results"])


def test_total_results_counts_past_the_page_and_says_there_is_more(search_world):
    gamma = search_world["gamma"]
    query = gamma.ids[search_world["originals"][0]]

    page = similar(gamma.viewer, image_id=query, min_confidence=0, max_results=4).json()

    assert (page["shown"], page["total_results"], page["has_more"]) == (4, 13, True)


def test_collapsing_puts_duplicates_of_each_other_in_one_entry(search_world):
    gamma = search_world["gamma"]
    original = search_world["originals"][0]
    group_ids = {gamma.ids[original]} | {gamma.ids[c] for c, _t in search_world["copies"][original]}
    query = gamma.ids[search_world["originals"][1]]

    flat = similar(gamma.viewer, image_id=query, min_confidence=0, max_results=100).json()
    collapsed = similar(
        gamma.viewer, image_id=query, min_confidence=0, max_results=100, collapse_duplicates=True
    ).json()

    with tenant_context(gamma.tenant):
        grouped = {
            str(image_id): group_id
            for image_id, group_id in Member.objects.filter(group__status=GroupStatus.OPEN).values_list(
                "image_id", "group_id"
            )
        }
    assert len({grouped[i] for i in [*group_ids] if i in grouped}) == 1  # detection grouped them
    entry = next(r for r in collapsed["results"] if r["image_id"] in {str(i) for i in group_ids})
    assert {entry["image_id"], *entry["duplicates"]} == {str(i) for i in group_ids}
    assert entry["duplicate_count"] == len(group_ids) - 1
    entries = {grouped.get(r["image_id"], r["image_id"]) for r in flat["results"]}
    assert collapsed["total_results"] == len(entries) < flat["total_results"]
    assert all(r["duplicate_count"] == 0 for r in flat["results"])


def test_a_base64_image_in_json_is_a_query(search_world):
    gamma = search_world["gamma"]
    original = search_world["originals"][1]
    data = base64.b64encode((BENCH_IMAGES / original).read_bytes()).decode()

    plain = similar(gamma.viewer, image=data, max_results=3)
    as_data_url = similar(gamma.viewer, image=f"data:image/jpeg;base64,{data}", max_results=3)

    assert plain.status_code == 200, plain.content
    first = plain.json()["results"][0]
    assert (first["image_id"], first["match"]) == (gamma.ids[original], "identical")
    assert as_data_url.json()["results"][0]["image_id"] == gamma.ids[original]


def test_a_multipart_upload_of_a_copy_finds_its_original_verified(search_world):
    gamma = search_world["gamma"]
    original, copies = next(iter(search_world["copies"].items()))
    copy, _transform = copies[0]

    response = gamma.viewer.client.post(
        "/api/v1/search/similarity",
        {"image": SimpleUploadedFile("q.jpg", (BENCH_IMAGES / copy).read_bytes())},
        **gamma.viewer.headers,
    )

    by_id = {r["image_id"]: r for r in response.json()["results"]}
    assert by_id[gamma.ids[original]]["match"] == "same_picture"
    assert by_id[gamma.ids[copy]]["match"] == "identical"


def test_storage_locations_by_name_or_id_and_an_unknown_one_is_a_400(search_world):
    gamma = search_world["gamma"]
    query = gamma.ids[search_world["originals"][0]]
    with tenant_context(gamma.tenant):
        location_id = str(Image.objects.get(pk=query).storage_location_id)

    by_name = similar(gamma.viewer, image_id=query, min_confidence=0, storage_locations=["Local files"])
    by_id = similar(gamma.viewer, image_id=query, min_confidence=0, storage_locations=[location_id])
    unknown = similar(gamma.viewer, image_id=query, storage_locations=["Local files", "nowhere"])

    assert by_name.json()["total_results"] == by_id.json()["total_results"] == 13
    assert unknown.status_code == 400
    assert "nowhere" in str(unknown.json()["error"]["detail"]["storage_locations"])


def test_an_images_vector_searched_as_a_vector_finds_the_image(search_world):
    gamma = search_world["gamma"]
    image_id = gamma.ids[search_world["originals"][0]]

    stored = gamma.viewer.get(f"images/{image_id}/vector?model=descriptor")
    found = similar(gamma.viewer, vector=stored.json()["vector"], model="descriptor", max_results=2)

    assert stored.status_code == 200, stored.content
    assert (stored.json()["model"], stored.json()["dimensions"]) == ("descriptor", 231)
    first = found.json()["results"][0]
    assert (first["image_id"], first["match"], first["confidence"]) == (image_id, "similar", None)
    assert first["similarity_score"] > 0.999


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"vector": [0.1] * 231}, "invalid_search"),  # no model
        ({"vector": [0.1] * 10, "model": "descriptor"}, "invalid_search"),  # wrong dimensions
        ({"vector": [0.0] * 231, "model": "descriptor"}, "invalid_search"),
        ({"image": "not base64!"}, "invalid_base64"),
        (
            {"image": "", "image_id": "00000000-0000-0000-0000-000000000000", "vector": [1.0]},
            "invalid_search",
        ),
    ],
)
def test_bad_seed_shaped_queries_get_a_clear_400(search_world, body, code):
    response = similar(search_world["gamma"].viewer, **body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code


def test_a_base64_image_over_the_size_limit_is_a_413(search_world, settings):
    settings.DEEPLENS_SEARCH_MAX_QUERY_BYTES = 1000
    data = base64.b64encode((BENCH_IMAGES / search_world["originals"][0]).read_bytes()).decode()

    response = similar(search_world["gamma"].viewer, image=data)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_extract_returns_the_features_and_stores_nothing(search_world):
    gamma = search_world["gamma"]
    original = search_world["originals"][0]
    data = (BENCH_IMAGES / original).read_bytes()
    with tenant_context(gamma.tenant):
        before = Image.objects.count()
        stored = Image.objects.get(pk=gamma.ids[original])

    multipart = gamma.viewer.client.post(
        "/api/v1/search/extract",
        {"image": SimpleUploadedFile("q.jpg", data), "model": "descriptor"},
        **gamma.viewer.headers,
    )
    as_json = gamma.viewer.post("search/extract", {"image": base64.b64encode(data).decode()})
    stored_vector = gamma.viewer.get(f"images/{gamma.ids[original]}/vector").json()["vector"]

    assert multipart.status_code == 200, multipart.content
    body = multipart.json()
    assert body["sha256"] == stored.sha256
    assert (body["width"], body["height"]) == (stored.width, stored.height)
    assert body["descriptor"]["dimensions"] == 231
    assert body["embedding"]["model"] == "descriptor"
    assert sum(a * b for a, b in zip(body["descriptor"]["vector"], stored_vector, strict=True)) > 0.999
    assert len(body["hashes"]["phash"]) == 16
    assert as_json.json()["sha256"] == stored.sha256 and as_json.json()["embedding"] is None
    with tenant_context(gamma.tenant):
        assert Image.objects.count() == before


def test_extract_refuses_what_is_not_an_image(search_world):
    api = search_world["gamma"].viewer
    response = api.client.post(
        "/api/v1/search/extract", {"image": SimpleUploadedFile("x.svg", SVG)}, **api.headers
    )
    missing = api.post("search/extract", {})

    assert response.status_code == 415
    assert missing.status_code == 400


def test_another_tenants_image_vector_is_not_found(search_world):
    gamma, delta = search_world["gamma"], search_world["delta"]

    response = delta.viewer.get(f"images/{gamma.ids[search_world['originals'][0]]}/vector")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "image_not_found"


def test_a_key_without_the_search_scope_may_not_use_the_new_endpoints(search_world):
    gamma = search_world["gamma"]
    image_id = gamma.ids[search_world["originals"][0]]

    def key():
        with tenant_context(gamma.tenant):
            creator = UserFactory(tenant=gamma.tenant, role=Role.ADMIN, email="keys@search-gamma.test")
            return api_key_for(tenant=gamma.tenant, creator=creator, scopes=[ApiKeyScope.UPLOAD])

    api = Api(host(gamma.tenant), committed(key))

    assert api.get(f"images/{image_id}/vector").status_code == 403
    assert api.post("search/extract", {"image": "aGVsbG8="}).status_code == 403
    assert similar(api, image_id=image_id).status_code == 403


def test_anonymous_callers_get_401(search_world):
    api = Api(host(search_world["gamma"].tenant))
    image_id = search_world["gamma"].ids[search_world["originals"][0]]

    assert api.get(f"images/{image_id}/vector").status_code == 401
    assert api.post("search/extract", {"image": "aGVsbG8="}).status_code == 401


def test_in_a_small_collection_an_unrelated_photo_is_not_clearly_similar(search_world):
    delta = search_world["delta"]  # two different photos, no copies

    body = similar(delta.viewer, image_id=delta.ids[search_world["originals"][0]]).json()
    everything = similar(
        delta.viewer, image_id=delta.ids[search_world["originals"][0]], min_confidence=0
    ).json()

    assert (body["total_results"], body["shown"], body["results"]) == (0, 0, [])
    assert everything["total_results"] == 1
    assert everything["results"][0]["confidence"] < confidence.DEFAULT_MIN_CONFIDENCE


def test_confidence_grows_with_the_margin_over_the_tenth_and_falls_with_the_phash_distance():
    near = confidence.unverified(similarity=0.97, tenth=0.93, phash_distance=20)
    level = confidence.unverified(similarity=0.97, tenth=0.97, phash_distance=20)
    far_hash = confidence.unverified(similarity=0.97, tenth=0.93, phash_distance=34)

    assert 0 <= level < near <= 1
    assert far_hash < near
    assert confidence.verified("orb") > 0.999 and confidence.verified("sha256") == 1.0
