from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditAction, AuditEvent
from apps.images.models import Image, ImageSettings
from apps.images.services import images_purge_expired
from tests import imagefiles
from tests.api import as_user
from tests.factories import UserFactory
from tests.images.conftest import media_files, process, upload


def test_delete_moves_to_the_trash_and_restore_brings_it_back(alpha, ready_image, member_api):
    assert member_api.delete(f"images/{ready_image.pk}").status_code == 204

    assert member_api.get("images").json()["count"] == 0
    trash = member_api.get("images/deleted").json()
    assert [item["id"] for item in trash["results"]] == [str(ready_image.pk)]
    # the uploader may restore it, so may still download it (tests/images/test_trash.py)
    assert member_api.get(f"images/{ready_image.pk}/download").status_code == 200

    restored = member_api.post(f"images/{ready_image.pk}/restore")
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None
    assert [e.action for e in AuditEvent.objects.filter(target_id=str(ready_image.pk)).order_by("id")] == [
        AuditAction.IMAGE_DELETED,
        AuditAction.IMAGE_RESTORED,
    ]


def test_a_member_deletes_only_their_own_uploads(alpha, ready_image, users):
    other = as_user(UserFactory(tenant=alpha, role=Role.MEMBER, email="other.member@alpha.test"))

    response = other.delete(f"images/{ready_image.pk}")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_your_image"
    with tenant_context(alpha):
        assert Image.objects.get(pk=ready_image.pk).deleted_at is None
    assert as_user(users[Role.ADMIN]).delete(f"images/{ready_image.pk}").status_code == 204


def test_restore_batch_reports_each_image(alpha, member_api):
    first = process(alpha, upload(member_api, "a.jpg", imagefiles.jpeg(100, 100)).json()["id"])
    second = process(alpha, upload(member_api, "b.jpg", imagefiles.jpeg(100, 100, seed=2)).json()["id"])
    for image in (first, second):
        member_api.delete(f"images/{image.pk}")
    missing = "00000000-0000-0000-0000-000000000009"

    body = member_api.post("images/restore-batch", {"ids": [str(first.pk), str(second.pk), missing]}).json()

    assert sorted(body["restored"]) == sorted([str(first.pk), str(second.pk)])
    assert body["missing"] == [missing]
    assert member_api.get("images").json()["count"] == 2


def test_the_trash_is_purged_after_the_retention_period(alpha, ready_image, member_api):
    member_api.delete(f"images/{ready_image.pk}")
    keys = {ready_image.storage_key, *(t.storage_key for t in ready_image.thumbnails.all())}
    assert keys <= media_files()

    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"retention_days": 30})
        assert images_purge_expired(tenant=alpha) == 0
        Image.objects.filter(pk=ready_image.pk).update(deleted_at=timezone.now() - timedelta(days=31))
        assert images_purge_expired(tenant=alpha) == 1
        assert not Image.objects.filter(pk=ready_image.pk).exists()

    assert not keys & media_files()
    purged = AuditEvent.objects.get(action=AuditAction.IMAGE_PURGED)
    assert purged.actor is None
    assert purged.details["filename"] == "ready.jpg"


@pytest.mark.parametrize("path", ["images/{id}/restore", "images/{id}/retry"])
def test_lifecycle_of_another_tenants_image_is_not_found(ready_image, users, path):
    response = as_user(users["beta_member"]).post(path.format(id=ready_image.pk))

    assert response.status_code == 404
