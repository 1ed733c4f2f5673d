"""An upload whose bytes are already in the workspace: answered with duplicate_of (kept and grouped
by default), or refused with 409 when the tenant says so; the setting is for tenant admins."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.images.models import Image, ImageSettings, StorageUsage
from tests import imagefiles
from tests.api import as_user
from tests.images.conftest import media_files, upload


def test_an_upload_of_bytes_already_stored_names_the_image_it_duplicates(alpha, member_api):
    data = imagefiles.jpeg(320, 240)
    first = upload(member_api, "a.jpg", data)
    second = upload(member_api, "b.jpg", data)
    other = upload(member_api, "c.jpg", imagefiles.jpeg(321, 240))
    assert [r.status_code for r in (first, second, other)] == [202, 202, 202]
    assert first.json()["duplicate_of"] is None
    assert second.json()["duplicate_of"] == first.json()["id"]
    assert other.json()["duplicate_of"] is None
    with tenant_context(alpha):
        assert Image.objects.count() == 3


def test_a_copy_in_the_trash_does_not_count(alpha, member_api, admin_api):
    data = imagefiles.jpeg(320, 240)
    first = upload(member_api, "a.jpg", data).json()["id"]
    assert admin_api.delete(f"images/{first}").status_code == 204
    assert upload(member_api, "b.jpg", data).json()["duplicate_of"] is None


def test_with_the_refuse_setting_an_identical_upload_gets_409_and_nothing_is_stored(
    alpha, member_api, admin_api
):
    data = imagefiles.jpeg(320, 240)
    first = upload(member_api, "a.jpg", data).json()["id"]
    response = admin_api.patch("duplicates/upload-policy", {"identical_uploads": "refuse"})
    assert response.status_code == 200, response.content
    assert response.json() == {"identical_uploads": "refuse"}
    files_before = media_files()
    with tenant_context(alpha):
        usage_before = list(StorageUsage.objects.values())

    refused = upload(member_api, "again.jpg", data)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "identical_upload_refused"
    assert refused.json()["error"]["detail"]["duplicate_of"] == first
    assert media_files() == files_before
    with tenant_context(alpha):
        assert list(Image.objects.values_list("pk", flat=True)) == [Image.objects.get().pk]
        assert list(StorageUsage.objects.values()) == usage_before
        event = AuditEvent.objects.get(action="images.settings_changed")
        assert event.details == {"identical_uploads": {"from": "keep", "to": "refuse"}}
    # other bytes still go in
    assert upload(member_api, "new.jpg", imagefiles.jpeg(330, 240)).status_code == 202


def test_the_upload_policy_reads_keep_by_default(admin_api):
    assert admin_api.get("duplicates/upload-policy").json() == {"identical_uploads": "keep"}


def test_a_bad_policy_value_is_refused_and_changes_nothing(alpha, admin_api):
    response = admin_api.patch("duplicates/upload-policy", {"identical_uploads": "delete"})
    assert response.status_code == 400
    with tenant_context(alpha):
        assert not ImageSettings.objects.exclude(identical_uploads="keep").exists()
        assert not AuditEvent.objects.filter(action="images.settings_changed").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_tenant_admins_change_the_upload_policy(alpha, users, role):
    api = as_user(users[role])
    assert api.get("duplicates/upload-policy").status_code == 403
    assert api.patch("duplicates/upload-policy", {"identical_uploads": "refuse"}).status_code == 403
    with tenant_context(alpha):
        assert not ImageSettings.objects.filter(identical_uploads="refuse").exists()


def test_another_tenants_admin_cannot_change_the_upload_policy(alpha, beta, users):
    response = as_user(users[Role.ADMIN], tenant=beta).patch(
        "duplicates/upload-policy", {"identical_uploads": "refuse"}
    )
    assert response.status_code == 403
    for tenant in (alpha, beta):
        with tenant_context(tenant):
            assert not ImageSettings.objects.filter(identical_uploads="refuse").exists()
