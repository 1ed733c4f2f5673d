"""The stages after processing (apps/images/pipeline.py): status per image, failures with reasons
that never stop the other images, retry, and claims of workers that are gone."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.core import workers
from apps.duplicates.models import Signature
from apps.duplicates.services.indexing import images_index
from apps.duplicates.signatures import VERSION
from apps.images import pipeline
from apps.images.models import Image, ImageStage, ImageStatus, StageState
from apps.images.services.stages import claims_release_dead, stage_claim, stage_claimable_exists
from apps.storage.backends import storage_for
from tests import imagefiles
from tests.images.conftest import process, upload


def _ready(alpha, api, name: str, data: bytes) -> Image:
    response = upload(api, name, data)
    assert response.status_code == 202, response.content
    image = process(alpha, response.json()["id"])
    assert image.status == ImageStatus.READY, image.failure_reason
    return image


def _stages(alpha, image_id) -> dict:
    with tenant_context(alpha):
        return {row.stage: row for row in ImageStage.objects.filter(image_id=image_id)}


def test_the_pipeline_lists_its_stages_in_order_with_their_apps_and_queues():
    assert [(s.name, s.app, s.queue) for s in pipeline.STAGES] == [
        ("process", "apps.images", "ingest"),
        ("index", "apps.duplicates", "index"),
        ("detect", "apps.duplicates", "index"),
        ("embed", "apps.search", "embed"),
    ]
    # No torch model is active in a fresh tenant: embed has no status row to show.
    with pytest.raises(ValueError, match="not a later stage"):
        pipeline.stage_connect("process")


def test_status_says_searchable_and_checked_once_the_index_stage_ran(alpha, member_api):
    image = _ready(alpha, member_api, "a.jpg", imagefiles.jpeg(320, 240, seed=1))

    before = member_api.get(f"/api/v1/images/{image.pk}/status").json()
    with tenant_context(alpha):
        outcome = images_index(image_ids=[image.pk])
    after = member_api.get(f"/api/v1/images/{image.pk}/status").json()

    assert (before["searchable"], before["checked_for_duplicates"]) == (False, False)
    assert [(s["stage"], s["state"]) for s in before["stages"]][-2:] == [
        ("index", "pending"),
        ("detect", "pending"),
    ]
    assert outcome.claimed == [image.pk]
    assert (after["searchable"], after["checked_for_duplicates"], after["failed_later_stage"]) == (
        True,
        True,
        None,
    )
    later = {s["stage"]: s for s in after["stages"][4:]}
    assert (later["index"]["state"], later["detect"]["state"], later["detect"]["attempts"]) == (
        "done",
        "done",
        1,
    )
    assert later["detect"]["duration_ms"] >= 0
    # Claimed once: a second task for the same image finds nothing to do.
    with tenant_context(alpha):
        assert images_index(image_ids=[image.pk]).claimed == []


def test_an_image_that_cannot_be_indexed_fails_with_a_reason_and_the_others_go_on(alpha, member_api):
    broken = _ready(alpha, member_api, "broken.jpg", imagefiles.jpeg(320, 240, seed=2))
    good = _ready(alpha, member_api, "good.jpg", imagefiles.jpeg(320, 240, seed=3))
    with tenant_context(alpha):  # the original is damaged after processing
        storage = storage_for(broken.storage_location)
        storage.delete(broken.storage_key)
        storage.save(broken.storage_key, io.BytesIO(b"not an image any more"))

        outcome = images_index(image_ids=[broken.pk, good.pk])

    assert sorted(map(str, outcome.claimed)) == sorted([str(broken.pk), str(good.pk)])
    assert outcome.failed == 1
    rows = _stages(alpha, broken.pk)
    assert (rows["index"].state, rows["detect"].state, rows["index"].retryable) == ("failed", "failed", False)
    assert rows["index"].reason.startswith("The original could not be decoded")
    assert {s: r.state for s, r in _stages(alpha, good.pk).items()} == {"index": "done", "detect": "done"}
    status = member_api.get(f"/api/v1/images/{broken.pk}/status").json()
    assert (status["status"], status["searchable"], status["failed_later_stage"]) == ("ready", False, "index")
    # A terminal failure is not retried by the sweep; a person's retry is.
    with tenant_context(alpha):
        assert stage_claim(stage="detect", image_ids=[broken.pk]) == []


def test_a_hostile_image_that_the_feature_extractor_refuses_does_not_stop_the_batch(
    alpha, member_api, monkeypatch
):
    first = _ready(alpha, member_api, "first.jpg", imagefiles.jpeg(320, 240, seed=4))
    hostile = _ready(alpha, member_api, "hostile.jpg", imagefiles.jpeg(320, 240, seed=5))
    last = _ready(alpha, member_api, "last.jpg", imagefiles.jpeg(320, 240, seed=6))
    from apps.duplicates import features

    real = features.extract

    def extract(image):
        if image.size == (320, 240) and image.getpixel((0, 0)) == hostile_pixel:
            raise RuntimeError("OpenCV(4.13.0) error: (-215:Assertion failed)")
        return real(image)

    with tenant_context(alpha), storage_for(hostile.storage_location).open(hostile.storage_key) as f:
        hostile_pixel = PILImage.open(f).convert("RGB").getpixel((0, 0))
    monkeypatch.setattr(features, "extract", extract)

    with tenant_context(alpha):
        outcome = images_index(image_ids=[first.pk, hostile.pk, last.pk])

    assert outcome.failed == 1
    assert _stages(alpha, hostile.pk)["index"].reason.startswith("Could not be indexed (RuntimeError: OpenCV")
    assert _stages(alpha, last.pk)["detect"].state == "done"


def test_a_thin_tall_png_is_indexed_or_refused_with_a_reason_never_stuck(alpha, member_api):
    """A 1 x 20000 PNG (164 bytes) made OpenCV raise inside detection, which left the image and every
    later image of its task unindexed."""
    buffer = io.BytesIO()
    PILImage.new("L", (1, 20000), 255).save(buffer, "PNG")
    thin = _ready(alpha, member_api, "thin.png", buffer.getvalue())
    after = _ready(alpha, member_api, "after.jpg", imagefiles.jpeg(320, 240, seed=7))

    with tenant_context(alpha):
        images_index(image_ids=[thin.pk, after.pk])

    assert _stages(alpha, thin.pk)["detect"].state in (StageState.DONE, StageState.FAILED)
    assert _stages(alpha, after.pk)["detect"].state == StageState.DONE


def test_retry_runs_the_failed_later_stages_of_a_ready_image_again(
    alpha, member_api, django_capture_on_commit_callbacks
):
    image = _ready(alpha, member_api, "retry.jpg", imagefiles.jpeg(320, 240, seed=8))
    with tenant_context(alpha):
        Signature.objects.filter(image_id=image.pk).delete()
        ImageStage.objects.create(image=image, stage="index", state="failed", reason="boom", attempts=1)
        ImageStage.objects.create(image=image, stage="detect", state="failed", reason="boom", attempts=1)

    with django_capture_on_commit_callbacks() as callbacks:
        response = member_api.post(f"/api/v1/images/{image.pk}/retry")
    nothing_failed = member_api.post(f"/api/v1/images/{image.pk}/retry")

    assert response.status_code == 202, response.content
    assert _stages(alpha, image.pk) == {}
    assert len(callbacks) == 1  # the index task, sent once the reset commits
    assert nothing_failed.status_code == 409
    with tenant_context(alpha):
        assert images_index(image_ids=[image.pk]).claimed == [image.pk]


def test_claims_of_a_worker_without_heartbeat_are_released_and_live_ones_kept(alpha, member_api):
    images = [_ready(alpha, member_api, f"c{n}.jpg", imagefiles.jpeg(64, 64, seed=20 + n)) for n in range(3)]
    long_ago = timezone.now() - timedelta(seconds=workers.HEARTBEAT_TTL + 5)
    live = "live@host|aaaa"
    workers.beat_once(live)
    with tenant_context(alpha):
        for image, claim in zip(images, ["gone@host|bbbb", live, "node@host|old1"], strict=True):
            ImageStage.objects.create(
                image=image,
                stage="detect",
                state="running",
                claimed_by=claim,
                started_at=long_ago,
                attempts=1,
            )
        released_by_heartbeat = claims_release_dead(restarted="")
        # The same node started again: what its earlier run held goes back at once.
        ImageStage.objects.filter(image=images[2]).update(
            state="running", claimed_by="node@host|old1", started_at=timezone.now()
        )
        released_at_restart = claims_release_dead(restarted="node@host|new2")
        states = dict(ImageStage.objects.filter(image__in=images).values_list("claimed_by", "state"))

    assert released_by_heartbeat == 2  # the worker that is gone, and node@host|old1 (no heartbeat either)
    assert released_at_restart == 1
    assert states == {"": "pending", live: "running"}


def test_the_sweep_finds_ready_images_whose_index_stage_never_ran(alpha, member_api):
    image = _ready(alpha, member_api, "lost.jpg", imagefiles.jpeg(64, 64, seed=30))
    with tenant_context(alpha):
        assert stage_claimable_exists(stage="detect")
        assert not stage_claimable_exists(stage="detect", ready_before=timezone.now() - timedelta(hours=1))
        images_index()
        assert not stage_claimable_exists(stage="detect")
        assert Image.objects.get(pk=image.pk).stages.get(stage="detect").state == "done"


def test_a_worker_start_indexes_again_the_images_whose_signature_an_older_method_made(alpha, member_api):
    from apps.duplicates.services.indexing import index_sweep

    image = _ready(alpha, member_api, "old.jpg", imagefiles.jpeg(64, 64, seed=40))
    with tenant_context(alpha):
        images_index(image_ids=[image.pk])
        Signature.objects.filter(image_id=image.pk).update(version=VERSION - 1)
        assert not stage_claimable_exists(stage="detect")  # the minute's sweep leaves it

        index_sweep(worker_started=True)

        assert _stages(alpha, image.pk) == {}
        assert images_index(image_ids=[image.pk]).claimed == [image.pk]
        assert Signature.objects.get(image_id=image.pk).version == VERSION


def test_the_idle_sweep_indexes_again_older_signatures_a_batch_at_a_time(alpha, member_api, monkeypatch):
    """A library indexed by an older method moves to the new one in the background, without a
    worker restart; an image whose indexing failed since keeps its older signature and is not
    tried every minute."""
    from apps.duplicates.services import indexing

    images = [
        _ready(alpha, member_api, f"old{n}.jpg", imagefiles.jpeg(64, 64, seed=44 + n)) for n in range(3)
    ]
    ids = [image.pk for image in images]
    sent = []
    monkeypatch.setattr(indexing, "catch_up_enqueue", lambda: sent.append(True) or True)
    monkeypatch.setattr(indexing, "STALE_BATCH", 1)
    with tenant_context(alpha):
        images_index(image_ids=ids)
        Signature.objects.filter(image_id__in=ids).update(version=VERSION - 1)
        ImageStage.objects.filter(image_id=ids[2], stage="index").update(state=StageState.FAILED)

        assert indexing.index_sweep() == 1
        first = [i for i in ids[:2] if _stages(alpha, i) == {}]
        assert len(first) == 1  # one batch
        assert indexing.index_sweep() == 1  # it waits: the catch-up is sent again, nothing more reset
        assert [i for i in ids[:2] if _stages(alpha, i) == {}] == first
        assert images_index(image_ids=first).claimed == first
        assert Signature.objects.get(image_id=first[0]).version == VERSION

        assert indexing.index_sweep() == 1  # the next batch
        second = [i for i in ids[:2] if i not in first]
        assert _stages(alpha, second[0]) == {}
        images_index(image_ids=second)

        assert indexing.index_sweep() == 0  # only the failed one is left: it stays as it is
        assert Signature.objects.get(image_id=ids[2]).version == VERSION - 1
        assert _stages(alpha, ids[2])["index"].state == StageState.FAILED
    assert len(sent) == 3


def test_the_sweep_sends_images_an_active_model_never_embedded_once_per_ten_minutes(
    alpha, member_api, monkeypatch
):
    from apps.search.models import SearchModel
    from apps.search.services.models import embed_sweep

    embedded = _ready(alpha, member_api, "e1.jpg", imagefiles.jpeg(64, 64, seed=41))
    lost = _ready(alpha, member_api, "e2.jpg", imagefiles.jpeg(64, 64, seed=42))
    fresh = _ready(alpha, member_api, "e3.jpg", imagefiles.jpeg(64, 64, seed=43))
    sent = []
    monkeypatch.setattr("apps.search.tasks.images_embed_task.delay", lambda **kw: sent.append(kw))
    with tenant_context(alpha):
        SearchModel.objects.update_or_create(key="clip", defaults={"is_active": True})
        long_ago = timezone.now() - timedelta(minutes=11)
        Image.objects.filter(pk__in=[embedded.pk, lost.pk]).update(processed_at=long_ago)
        ImageStage.objects.create(image=embedded, stage="embed:clip", state="done")
        workers._client().delete(f"deeplens:embed-sweep:{alpha.schema_name}:clip")

        first, second = embed_sweep(), embed_sweep()

    assert (first, second) == (1, 0)  # the fresh one has its own task; a second batch waits
    assert sent == [{"model": "clip", "image_ids": [str(lost.pk)]}]
    assert str(fresh.pk) not in sent[0]["image_ids"]
