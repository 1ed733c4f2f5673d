"""A 1 x 20000 PNG (164 bytes) through the real worker: upload, processing, index and detection end
in a state, never stuck (issue 17, item 7). Committed rows, so that the worker sees them."""

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.audit.context import Actor
from apps.images.models import Image, ImageStage, ImageStatus, StageState
from apps.images.services.ingest import image_ingest
from apps.images.services.lifecycle import image_purge
from apps.images.services.usage import usage_reconcile
from apps.tenants.models import Tenant
from tests import imagefiles
from tests.support.waiting import eventually

FINAL = (StageState.DONE, StageState.FAILED)


def _settled(image_id) -> dict | None:
    """The image's status and later stages once processing and both later stages have ended."""
    image = Image.objects.get(pk=image_id)
    if image.status == ImageStatus.FAILED:
        return {"status": image.status, "reason": image.failure_reason}
    if image.status != ImageStatus.READY:
        return None
    stages = {row.stage: row for row in ImageStage.objects.filter(image_id=image_id)}
    if not all(name in stages and stages[name].state in FINAL for name in ("index", "detect")):
        return None
    return {"status": image.status, **{name: (row.state, row.reason) for name, row in stages.items()}}


def test_a_1x20000_png_is_indexed_or_failed_with_a_reason_and_the_next_upload_is_indexed(
    django_db_setup, django_db_blocker, celery_worker
):
    buffer = io.BytesIO()
    PILImage.new("L", (1, 20000), 255).save(buffer, "PNG")
    thin_png = buffer.getvalue()
    assert len(thin_png) < 200
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="alpha")
        with tenant_context(tenant):
            thin, after = (
                image_ingest(
                    tenant=tenant, file=SimpleUploadedFile(name, data), filename=name, actor=Actor.system()
                )
                for name, data in (
                    ("thin.png", thin_png),
                    ("after.jpg", imagefiles.jpeg(320, 240, seed=11)),
                )
            )
            try:
                thin_state = eventually(
                    lambda: _settled(thin.pk),
                    timeout=90,
                    interval=0.3,
                    message=lambda: f"the 1x20000 PNG did not settle: {Image.objects.get(pk=thin.pk).status}",
                )
                after_state = eventually(
                    lambda: _settled(after.pk),
                    timeout=90,
                    interval=0.3,
                    message="the next upload did not settle",
                )
                if thin_state["status"] == ImageStatus.FAILED:
                    assert thin_state["reason"]
                else:
                    for state, reason in (thin_state["index"], thin_state["detect"]):
                        assert state == StageState.DONE or reason, thin_state
                assert (after_state["index"][0], after_state["detect"][0]) == (
                    StageState.DONE,
                    StageState.DONE,
                )
            finally:
                for image in Image.objects.select_related("storage_location").filter(
                    pk__in=[thin.pk, after.pk]
                ):
                    image_purge(image=image, actor=Actor.system(), tenant=tenant)
                usage_reconcile()
