"""Detection yields to ingestion: while the tenant has uploads waiting to be processed, a detection
task leaves fresh images to the catch-up, which runs when the processing queue runs dry or when the
sweep finds images older than DEEPLENS_INDEX_YIELD_SECONDS; no message is re-sent in a loop.
Committed rows, so that the real worker sees them (it runs with the tests' setting, 0: no
yielding)."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.duplicates.models import Signature
from apps.duplicates.services.indexing import catch_up_done, catch_up_pending, index_sweep, ingest_backlog
from apps.duplicates.tasks import duplicates_detect_task
from apps.images import pipeline
from apps.images.models import Image, ImageStage, ImageStatus
from apps.images.services.ingest import image_ingest
from apps.images.services.lifecycle import image_purge
from apps.images.services.usage import usage_reconcile
from apps.tenants.models import Tenant
from tests.duplicates.conftest import jpeg_bytes, photo
from tests.support.waiting import eventually


def _ingest(tenant, name, index):
    return image_ingest(
        tenant=tenant,
        file=SimpleUploadedFile(name, jpeg_bytes(photo(index))),
        filename=name,
        actor=Actor.system(),
    )


def test_the_backlog_is_uploads_waiting_or_being_processed_and_not_deleted(alpha):
    """(Also the first test of this module: it has the test database set up before the next one,
    which works on committed rows outside a test transaction.)"""
    with tenant_context(alpha):
        image = _ingest(alpha, "one.jpg", 7)
        Image.objects.exclude(pk=image.pk).update(status=ImageStatus.READY)
        seen = {}
        for status in (ImageStatus.PENDING, ImageStatus.PROCESSING, ImageStatus.READY, ImageStatus.FAILED):
            Image.objects.filter(pk=image.pk).update(status=status)
            seen[status] = ingest_backlog()
        Image.objects.filter(pk=image.pk).update(status=ImageStatus.PENDING, deleted_at=timezone.now())
        seen["deleted"] = ingest_backlog()

    assert seen == {
        ImageStatus.PENDING: True,
        ImageStatus.PROCESSING: True,
        ImageStatus.READY: False,
        ImageStatus.FAILED: False,
        "deleted": False,
    }


def _indexed(image_id) -> bool:
    return (
        Signature.objects.filter(image_id=image_id).exists()
        and ImageStage.objects.filter(image_id=image_id, stage="detect", state="done").exists()
    )


def _forget(image_id) -> None:
    Signature.objects.filter(image_id=image_id).delete()
    ImageStage.objects.filter(image_id=image_id).delete()
    catch_up_done()


def test_detection_leaves_fresh_images_while_uploads_wait_and_catches_up_after(
    django_db_setup, django_db_blocker, celery_worker, settings
):
    settings.DEEPLENS_INDEX_YIELD_SECONDS = 60
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="alpha")
        with tenant_context(tenant):
            ready, waiting = _ingest(tenant, "ready.jpg", 5), _ingest(tenant, "waiting.jpg", 6)
            try:
                # The worker processes and detects both; then the scene is set with no task in flight:
                # one image ready and not yet detected, one upload waiting to be processed.
                eventually(
                    lambda: _indexed(ready.pk) and _indexed(waiting.pk),
                    timeout=60,
                    interval=0.3,
                    message="the worker did not index the uploads",
                )
                # ... and no catch-up still queued or running (sent when the processing queue ran
                # dry): a late one would claim the image the scene below leaves undetected.
                eventually(
                    lambda: not catch_up_pending(),
                    timeout=60,
                    interval=0.3,
                    message="a catch-up task did not finish",
                )
                _forget(ready.pk)
                Image.objects.filter(pk=waiting.pk).update(status=ImageStatus.PENDING)

                assert duplicates_detect_task(image_ids=[str(ready.pk)]) == 0
                assert not Signature.objects.filter(image_id=ready.pk).exists()
                assert not ImageStage.objects.filter(image_id=ready.pk).exists()  # nothing claimed
                # Ready for less than the yield window while uploads wait: the sweep leaves it.
                assert index_sweep() == 0

                # Ready for longer: the sweep sends the catch-up, which the worker runs.
                Image.objects.filter(pk=ready.pk).update(processed_at=timezone.now() - timedelta(seconds=61))
                assert index_sweep() == 1
                eventually(
                    lambda: _indexed(ready.pk),
                    timeout=60,
                    interval=0.3,
                    message="the catch-up did not index the image that waited",
                )

                # Nothing waiting any more: the processing queue running dry wakes the catch-up at once.
                _forget(ready.pk)
                Image.objects.filter(pk=waiting.pk).update(deleted_at=timezone.now())
                Image.objects.filter(pk=ready.pk).update(processed_at=timezone.now())
                pipeline.ingest_drained()
                eventually(
                    lambda: _indexed(ready.pk),
                    timeout=60,
                    interval=0.3,
                    message="the catch-up did not run after ingestion drained",
                )
            finally:
                for image in Image.objects.select_related("storage_location").filter(
                    pk__in=[ready.pk, waiting.pk]
                ):
                    image_purge(image=image, actor=Actor.system(), tenant=tenant)
                usage_reconcile()
