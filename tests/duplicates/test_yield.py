"""Detection yields to ingestion: while the tenant has uploads waiting to be processed, a detection
task hands itself back to the queue (up to DEEPLENS_INDEX_YIELD_SECONDS), and the worker runs it
later. Committed rows, so that the real worker sees them (it runs with the tests' setting, 0: no
yielding)."""

import time

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.duplicates.models import Signature
from apps.duplicates.tasks import duplicates_detect_task, ingest_backlog
from apps.images.models import Image, ImageStatus
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


def test_detection_steps_back_while_uploads_wait_and_runs_after(
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
                    lambda: Signature.objects.filter(image_id__in=[ready.pk, waiting.pk]).count() == 2,
                    timeout=60,
                    interval=0.3,
                    message="the worker did not process and detect the uploads",
                )
                Signature.objects.filter(image_id=ready.pk).delete()
                Image.objects.filter(pk=waiting.pk).update(status=ImageStatus.PENDING)

                stepped_back = duplicates_detect_task(image_ids=[str(ready.pk)])

                assert stepped_back == 0
                assert not Signature.objects.filter(image_id=ready.pk).exists()
                # Handed back to the queue: the worker (which does not yield) detects it shortly.
                eventually(
                    lambda: Signature.objects.filter(image_id=ready.pk).exists(),
                    timeout=60,
                    interval=0.3,
                    message="the handed-back detection task never ran",
                )

                # Past the yielding time, detection runs although uploads still wait.
                Signature.objects.filter(image_id=ready.pk).delete()
                Image.objects.filter(pk=waiting.pk).update(status=ImageStatus.PENDING)
                duplicates_detect_task(image_ids=[str(ready.pk)], waiting_since=time.time() - 61)
                assert Signature.objects.filter(image_id=ready.pk).exists()

                # Nothing waiting: detection runs at once.
                Signature.objects.filter(image_id=ready.pk).delete()
                Image.objects.filter(pk=waiting.pk).update(deleted_at=timezone.now())
                duplicates_detect_task(image_ids=[str(ready.pk)])
                assert Signature.objects.filter(image_id=ready.pk).exists()
            finally:
                for image in Image.objects.select_related("storage_location").filter(
                    pk__in=[ready.pk, waiting.pk]
                ):
                    image_purge(image=image, actor=Actor.system(), tenant=tenant)
                usage_reconcile()
