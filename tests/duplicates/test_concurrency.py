"""Two copies indexed at the same moment by two workers (threads with their own connections, on
committed rows) end in one group: the per-tenant advisory lock serialises grouping."""

import threading

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.db.models import Q
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.duplicates.models import Group, GroupStatus, Member
from apps.duplicates.services import image_detect
from apps.duplicates.services.detection import tenant_lock
from apps.images.models import Image, ImageStatus
from apps.images.services import image_process
from apps.images.services.ingest import image_ingest
from apps.images.services.lifecycle import image_purge
from apps.images.services.usage import usage_reconcile
from apps.tenants.models import Tenant
from tests.duplicates.conftest import VARIANTS, jpeg_bytes, photo
from tests.support.waiting import eventually


def test_the_grouping_lock_is_per_tenant(alpha, beta):
    """(Also the first test of this module: it has the test database set up before the next one,
    which works on committed rows outside a test transaction.)"""
    keys = []
    for tenant in (alpha, beta):
        with tenant_context(tenant), connection.cursor() as cursor:
            tenant_lock()
            cursor.execute(
                "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
            )
            keys.append({row[0] for row in cursor.fetchall()})
    assert len(keys[0]) == 1 and len(keys[1] - keys[0]) == 1


def test_two_copies_detected_at_the_same_moment_end_in_one_group(django_db_setup, django_db_blocker):
    img = photo(3)
    files = {"a.jpg": jpeg_bytes(img), "b.jpg": VARIANTS["hflip"](img), "c.png": VARIANTS["png"](img)}
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="alpha")
        with tenant_context(tenant):
            ids = []
            for name, data in files.items():
                image = image_ingest(
                    tenant=tenant, file=SimpleUploadedFile(name, data), filename=name, actor=Actor.system()
                )
                image_process(image_id=image.pk, tenant_slug=tenant.slug)
                ids.append(image.pk)
            # A Celery worker an earlier test started may have claimed an upload first (then
            # image_process had nothing to do): detection skips an image until it is ready.
            eventually(
                lambda: Image.objects.filter(pk__in=ids, status=ImageStatus.READY).count() == len(ids),
                timeout=60,
                interval=0.2,
                message="the uploads were not processed",
            )
        try:
            barrier = threading.Barrier(len(ids))
            errors = []

            def worker(image_id):
                try:
                    with tenant_context(tenant):
                        barrier.wait(timeout=30)
                        image_detect(image_id=image_id)
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    errors.append(exc)
                finally:
                    connection.close()

            threads = [threading.Thread(target=worker, args=(i,)) for i in ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)

            assert errors == []
            with tenant_context(tenant):
                groups = list(
                    Group.objects.filter(status=GroupStatus.OPEN, members__image_id__in=ids).distinct()
                )
                assert len(groups) == 1
                assert set(Member.objects.filter(group=groups[0]).values_list("image_id", flat=True)) == set(
                    ids
                )
        finally:
            with tenant_context(tenant):
                # Purging refreshes the groups of the images left, and a worker's detection task
                # may still be writing groups for these committed rows: clear and retry.
                def purged() -> bool:
                    try:
                        for image in Image.objects.select_related("storage_location").filter(pk__in=ids):
                            Group.objects.filter(
                                Q(members__image_id__in=ids) | Q(suggested_keeper_id__in=ids)
                            ).delete()
                            image_purge(image=image, actor=Actor.system(), tenant=tenant)
                    except IntegrityError:
                        return False
                    return True

                eventually(purged, timeout=10, interval=0.5, message="the test's images could not be purged")
                usage_reconcile()
