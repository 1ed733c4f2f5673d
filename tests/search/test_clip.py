"""CLIP end to end through the real worker with a tiny open_clip model: a config registered with
open_clip, random weights saved to a checkpoint and loaded through the local-checkpoint path the
test settings configure. Activation re-embeds the collection in a job; image and text queries are
embedded on the `embed` queue; new images are embedded after processing."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.search.models import Embedding, SearchModel
from tests.imagefiles import BENCH_IMAGES
from tests.search.conftest import committed, make_tenant, pick_bench, upload, wait_job, wait_ready
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def clip_world(django_db_setup, django_db_blocker, celery_worker, tiny_clip):
    originals, _copies, distractors = pick_bench()
    with django_db_blocker.unblock():
        epsilon = make_tenant("search-epsilon")
        for name in originals:
            epsilon.ids[name] = upload(epsilon.member, BENCH_IMAGES / name)
        wait_ready(epsilon.tenant, epsilon.ids.values())
        response = epsilon.admin.post("search/models/clip/activate")
        assert response.status_code == 202, response.content
        job = wait_job(epsilon.tenant, response.json()["job_id"])
        yield {"epsilon": epsilon, "job": job, "originals": originals, "distractors": distractors}


def test_activation_embeds_the_collection_in_a_job_with_progress(clip_world):
    epsilon, job = clip_world["epsilon"], clip_world["job"]

    assert (job.kind, job.state, job.total, job.processed, job.failed) == (
        "search_embed",
        "done",
        4,
        4,
        0,
    )
    assert job.progress == 1.0
    with tenant_context(epsilon.tenant):
        model = SearchModel.objects.get(key="clip")
        rows = Embedding.objects.filter(model="clip")
        assert model.is_active and model.dimensions == 32
        assert model.version.startswith("deeplens-tiny-test:sha256-")
        assert rows.count() == 4
        assert {(row.version, row.dimensions) for row in rows} == {(model.version, 32)}
    progress = epsilon.viewer.get(f"jobs/{job.pk}").json()
    assert (progress["state"], progress["progress"]) == ("done", 1.0)


def test_search_by_image_id_uses_clip_once_it_is_active(clip_world):
    epsilon = clip_world["epsilon"]
    query = epsilon.ids[clip_world["originals"][0]]

    default = epsilon.viewer.post("search/similarity", {"image_id": query}).json()
    # CLIP's similar carry no calibrated confidence (the threshold is theirs): all three pass by
    # default; the descriptor's are calibrated, so min_confidence 0 to see the same three.
    descriptor = epsilon.viewer.post(
        "search/similarity", {"image_id": query, "model": "descriptor", "min_confidence": 0}
    ).json()

    assert default["model"] == "clip"
    assert default["total_results"] == 3
    assert descriptor["model"] == "descriptor"
    assert {r["image_id"] for r in default["results"]} == {r["image_id"] for r in descriptor["results"]}
    assert {r["confidence"] for r in default["results"] if r["match"] == "similar"} <= {None}


def test_an_uploaded_query_is_embedded_by_the_worker(clip_world):
    epsilon = clip_world["epsilon"]
    original = clip_world["originals"][1]

    response = epsilon.viewer.client.post(
        "/api/v1/search/similarity",
        {"image": SimpleUploadedFile("q.jpg", (BENCH_IMAGES / original).read_bytes()), "model": "clip"},
        **epsilon.viewer.headers,
    )

    assert response.status_code == 200, response.content
    top = response.json()["results"][0]
    assert top["image_id"] == epsilon.ids[original]
    assert top["similarity_score"] > 0.99  # same pixels, same weights, halfvec storage


def test_text_search_is_embedded_by_the_worker(clip_world):
    epsilon = clip_world["epsilon"]

    response = epsilon.viewer.get("search/text?q=a+photo+of+a+dog&max_results=10")

    body = response.json()
    assert response.status_code == 200, response.content
    assert body["model"] == "clip"
    assert body["total_results"] == 4  # random weights rank arbitrarily; every image comes back
    assert {r["image_id"] for r in body["results"]} == set(epsilon.ids.values())


def test_new_images_are_embedded_with_clip_after_processing(clip_world):
    epsilon = clip_world["epsilon"]
    name = clip_world["distractors"][0]

    def add():
        new = upload(epsilon.member, BENCH_IMAGES / name)
        wait_ready(epsilon.tenant, [new])
        return new

    image_id = committed(add)

    def embedded():
        with tenant_context(epsilon.tenant):
            return eventually(
                Embedding.objects.filter(image_id=image_id, model="clip").exists,
                timeout=30,
                message="the new image got no CLIP embedding",
            )

    assert committed(embedded)
    response = epsilon.viewer.post("search/similarity", {"image_id": image_id, "model": "clip"})
    assert response.json()["total_results"] == 4


def test_clip_without_configured_weights_is_unavailable(clip_world, settings):
    settings.DEEPLENS_CLIP_CHECKPOINT = ""
    epsilon = clip_world["epsilon"]

    models = {m["key"]: m for m in epsilon.viewer.get("search/models").json()["models"]}
    activate = epsilon.admin.post("search/models/clip/activate")
    text = epsilon.viewer.get("search/text?q=dog")

    assert models["clip"]["available"] is False
    assert "DEEPLENS_CLIP_CHECKPOINT" in models["clip"]["unavailable_reason"]
    assert activate.status_code == 409
    assert activate.json()["error"]["code"] == "model_unavailable"
    assert text.status_code == 409


def test_switching_clip_off_stops_text_search(clip_world):
    epsilon = clip_world["epsilon"]

    off = epsilon.admin.post("search/models/clip/deactivate")
    text = epsilon.viewer.get("search/text?q=dog")
    image = epsilon.viewer.post("search/similarity", {"image_id": epsilon.ids[clip_world["originals"][0]]})

    assert off.status_code == 200
    assert text.status_code == 409
    assert image.json()["model"] == "descriptor"
