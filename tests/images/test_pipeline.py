import imagehash
import pytest
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.images.imaging import hash_hex
from apps.images.models import Image, ImageSettings, ImageStatus, Thumbnail
from apps.images.services import image_process
from apps.images.tasks import image_process_task
from apps.storage.backends import storage_for
from tests import imagefiles
from tests.images.conftest import process, upload


def test_processing_makes_thumbnails_hashes_and_reads_exif(alpha, ready_image):
    image = ready_image

    assert image.status == ImageStatus.READY
    assert all([image.decoded_at, image.thumbnails_at, image.hashed_at, image.processed_at])
    sizes = {t.spec: (t.width, t.height, t.format) for t in image.thumbnails.all()}
    assert sizes == {"small": (150, 112, "webp"), "medium": (400, 300, "webp"), "large": (1024, 768, "webp")}
    assert image.camera == "Canon EOS R5"
    assert image.taken_at.isoformat() == "2024-05-01T10:20:30+00:00"
    with tenant_context(alpha):
        storage = storage_for(image.storage_location)
        for thumbnail in image.thumbnails.all():
            assert thumbnail.storage_key == (
                f"alpha/thumbnails/{thumbnail.spec}/{image.created_at:%Y/%m}/{image.pk}.webp"
            )
            with storage.open(thumbnail.storage_key) as stored:
                assert PILImage.open(stored).size == (thumbnail.width, thumbnail.height)


@pytest.mark.parametrize("photo", imagefiles.bench_photos(4), ids=lambda p: p.name)
def test_hashes_match_imagehash_on_the_full_photo(alpha, member_api, photo):
    """Hashes come from the small rendition of a draft-decoded photo, yet agree with imagehash on
    the full-resolution photo to within 4 bits of 64."""
    image = process(alpha, upload(member_api, photo.name, photo.read_bytes()).json()["id"])
    full = PILImage.open(photo)

    for ours, theirs in (
        (image.phash, imagehash.phash(full)),
        (image.dhash, imagehash.dhash(full)),
        (image.whash, imagehash.whash(full)),
    ):
        assert imagehash.hex_to_hash(hash_hex(ours)) - theirs <= 4


def test_exif_orientation_is_applied(alpha, member_api):
    image = process(
        alpha, upload(member_api, "rotated.jpg", imagefiles.jpeg(800, 600, orientation=6)).json()["id"]
    )

    assert (image.width, image.height) == (600, 800)
    assert image.exif["orientation"] == 6
    large = next(t for t in image.thumbnails.all() if t.spec == "large")
    assert (large.width, large.height) == (600, 800)


def test_gps_is_kept_or_dropped_by_the_tenant_setting(alpha, member_api):
    gps = (((52.0, 22.0, 12.5), "N"), ((4.0, 53.0, 42.0), "W"))
    kept = process(alpha, upload(member_api, "gps.jpg", imagefiles.jpeg(300, 200, gps=gps)).json()["id"])
    assert kept.exif["gps"] == {"lat": 52.3701389, "lon": -4.895}

    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"keep_gps": False})
    dropped = process(alpha, upload(member_api, "gps2.jpg", imagefiles.jpeg(300, 200, gps=gps)).json()["id"])
    assert "gps" not in dropped.exif


def test_small_originals_are_not_enlarged(alpha, member_api):
    image = process(alpha, upload(member_api, "tiny.png", imagefiles.png_rgba(120, 80)).json()["id"])

    assert {t.spec: (t.width, t.height) for t in image.thumbnails.all()} == {
        "small": (120, 80),
        "medium": (120, 80),
        "large": (120, 80),
    }


def test_processing_again_repeats_nothing(alpha, ready_image):
    with tenant_context(alpha):
        before = dict(Thumbnail.objects.filter(image=ready_image).values_list("spec", "created_at"))
        Image.objects.filter(pk=ready_image.pk).update(status=ImageStatus.PENDING)
        image_process(image_id=ready_image.pk, tenant_slug="alpha")
        after = dict(Thumbnail.objects.filter(image=ready_image).values_list("spec", "created_at"))
        assert Image.objects.get(pk=ready_image.pk).status == ImageStatus.READY
    assert before == after


def test_a_transient_storage_error_is_retried_then_recorded(alpha, member_api, monkeypatch):
    image_id = upload(member_api, "flaky.jpg", imagefiles.jpeg(300, 200)).json()["id"]
    calls = []

    def unavailable(*args, **kwargs):
        calls.append(1)
        raise OSError("storage is unreachable")

    monkeypatch.setattr("apps.images.services.processing.decode_original", unavailable)
    with tenant_context(alpha):
        result = image_process_task.apply(kwargs={"image_id": image_id})
        image = Image.objects.get(pk=image_id)

    assert len(calls) == 4  # the first try and 3 retries
    assert result.successful()
    assert image.status == ImageStatus.FAILED
    assert image.failed_stage == "decode"
    assert "Gave up after 4 tries" in image.failure_reason


def test_a_failed_image_can_be_retried(alpha, member_api):
    image_id = upload(member_api, "broken.jpg", imagefiles.truncated_jpeg()).json()["id"]
    process(alpha, image_id)

    response = member_api.post(f"images/{image_id}/retry")

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    assert member_api.post(f"images/{image_id}/retry").status_code == 409


@pytest.mark.parametrize("deleted", [True, False])
def test_a_deleted_or_missing_image_is_not_processed(alpha, ready_image, deleted):
    with tenant_context(alpha):
        if deleted:
            Image.objects.filter(pk=ready_image.pk).update(
                deleted_at="2020-01-01T00:00:00Z", status=ImageStatus.PENDING
            )
            assert image_process(image_id=ready_image.pk, tenant_slug="alpha") is None
            assert Image.objects.get(pk=ready_image.pk).status == ImageStatus.PENDING
        else:
            assert image_process(image_id="00000000-0000-0000-0000-000000000000", tenant_slug="alpha") is None


def test_images_left_waiting_are_enqueued_again(
    alpha, member_api, django_capture_on_commit_callbacks, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from apps.images.services.processing import images_requeue_waiting

    image_id = upload(member_api, "stuck.jpg", imagefiles.jpeg(100, 100)).json()["id"]
    sent = []
    monkeypatch.setattr("apps.images.tasks.image_process_task.delay", lambda **kw: sent.append(kw))
    with tenant_context(alpha):
        assert images_requeue_waiting() == 0
        Image.objects.filter(pk=image_id).update(created_at=timezone.now() - timedelta(minutes=10))
        assert images_requeue_waiting() == 1
    assert sent == [{}]  # one task takes every waiting image


def test_a_batch_takes_other_waiting_images_along(alpha, member_api):
    from apps.images.services import images_process

    ids = [upload(member_api, f"b{n}.jpg", imagefiles.jpeg(200, 150, seed=n)).json()["id"] for n in range(3)]

    with tenant_context(alpha):
        processed = images_process(image_id=ids[1], tenant_slug="alpha", limit=8)
        statuses = set(Image.objects.filter(pk__in=ids).values_list("status", flat=True))
        # A second task for an image already taken has nothing to do.
        assert images_process(image_id=ids[0], tenant_slug="alpha", limit=8) == []
    assert str(processed[0].pk) == ids[1]
    assert len(processed) == 3
    assert statuses == {ImageStatus.READY}


@pytest.fixture
def wake_key_cleared(alpha):
    """A clear wake-up key before, and after: a key this test leaves (with its task faked) would
    keep later uploads in alpha from sending a real task for WAKE_SECONDS."""
    from apps.core.redis import get_redis
    from apps.images.services.ingest import wake_key

    with tenant_context(alpha):
        key = wake_key()
    get_redis().delete(key)
    yield
    get_redis().delete(key)


def test_a_stream_of_uploads_sends_one_task_per_wake(
    alpha, member_api, django_capture_on_commit_callbacks, monkeypatch, wake_key_cleared
):
    from apps.images.tasks import image_process_task

    sent = []
    monkeypatch.setattr("apps.images.tasks.image_process_task.delay", lambda **kw: sent.append(kw))
    for n in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            upload(member_api, f"s{n}.jpg", imagefiles.jpeg(120, 90, seed=n))
    assert len(sent) == 1  # one task is queued; it will take all four

    with tenant_context(alpha):
        assert image_process_task.apply().get() == 4
        assert Image.objects.filter(status=ImageStatus.READY).count() >= 4
    with django_capture_on_commit_callbacks(execute=True):
        upload(member_api, "after.jpg", imagefiles.jpeg(120, 90, seed=9))
    assert len(sent) == 2  # the task started: the next upload wakes another


def test_a_task_hands_over_after_its_share(alpha, member_api, settings, monkeypatch):
    from apps.images.tasks import image_process_task

    settings.DEEPLENS_INGEST_TASK_MAX, settings.DEEPLENS_INGEST_BATCH = 2, 2
    for n in range(3):
        upload(member_api, f"h{n}.jpg", imagefiles.jpeg(120, 90, seed=n))
    woken = []
    monkeypatch.setattr("apps.images.tasks.ingest_wake", lambda: woken.append(1))

    with tenant_context(alpha):
        assert image_process_task.apply().get() == 2
    assert woken == [1]
