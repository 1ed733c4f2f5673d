"""PATCH a storage location: rename, rotate credentials (same rules as creation, a fresh connection
test, the old ones kept when the new ones fail), scan schedule; audited without secrets."""

from django_tenants.utils import tenant_context

from apps.audit.models import AuditEvent
from apps.storage.crypto import secrets_decrypt
from apps.storage.models import StorageLocation
from tests.api import as_user
from tests.storage.test_locations_api import s3_body, url


def _created(alpha, admin_api, s3_server, name="Photos S3") -> dict:
    response = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket(), name=name))
    assert response.status_code == 201, response.content
    return response.json()


def _location(alpha, location_id) -> StorageLocation:
    with tenant_context(alpha):
        return StorageLocation.objects.get(pk=location_id)


def test_a_location_is_renamed_and_the_change_audited(alpha, admin_api, s3_server):
    created = _created(alpha, admin_api, s3_server)

    response = admin_api.patch(url(alpha, f"/{created['id']}"), {"name": "  Archive  "})

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Archive"
    assert _location(alpha, created["id"]).name == "Archive"
    with tenant_context(alpha):
        event = AuditEvent.objects.filter(action="storage.changed").latest("created_at")
    assert event.details == {
        "change": "updated",
        "before": {"name": "Photos S3"},
        "after": {"name": "Archive"},
        "credentials_rotated": False,
    }


def test_a_taken_or_empty_name_is_a_400_and_nothing_changes(alpha, admin_api, s3_server):
    first = _created(alpha, admin_api, s3_server)
    _created(alpha, admin_api, s3_server, name="Second")

    taken = admin_api.patch(url(alpha, f"/{first['id']}"), {"name": "Second"})
    empty = admin_api.patch(url(alpha, f"/{first['id']}"), {"name": "   "})

    assert (taken.status_code, taken.json()["error"]["detail"]) == (400, {"name": ["taken"]})
    assert (empty.status_code, list(empty.json()["error"]["detail"])) == (400, ["name"])
    assert _location(alpha, first["id"]).name == "Photos S3"


def test_rotated_credentials_are_tested_then_stored_encrypted_anew(alpha, admin_api, s3_server):
    created = _created(alpha, admin_api, s3_server)
    old_token = _location(alpha, created["id"]).secrets_encrypted

    response = admin_api.patch(url(alpha, f"/{created['id']}"), {"credentials": s3_server.credentials()})

    assert response.status_code == 200, response.content
    assert s3_server.secret_access_key not in response.content.decode()
    location = _location(alpha, created["id"])
    assert location.secrets_encrypted != old_token
    assert secrets_decrypt(location.secrets_encrypted) == s3_server.credentials()
    assert admin_api.post(url(alpha, f"/{created['id']}/test")).json()["ok"] is True
    with tenant_context(alpha):
        event = AuditEvent.objects.filter(action="storage.changed").latest("created_at")
    assert event.details["credentials_rotated"] is True
    assert s3_server.secret_access_key not in str(event.details)


def test_credentials_that_do_not_connect_are_refused_and_the_old_ones_kept(alpha, admin_api, s3_server):
    created = _created(alpha, admin_api, s3_server)
    old_token = _location(alpha, created["id"]).secrets_encrypted
    wrong = {"access_key_id": "AKIAWRONG00000000000", "secret_access_key": "wrong"}

    response = admin_api.patch(url(alpha, f"/{created['id']}"), {"credentials": wrong, "name": "Renamed"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage_credentials_invalid"
    location = _location(alpha, created["id"])
    assert (location.secrets_encrypted, location.name) == (old_token, "Photos S3")


def test_rotation_is_checked_with_the_endpoint_rules_of_creation(alpha, admin_api, s3_server, settings):
    created = _created(alpha, admin_api, s3_server)
    old_token = _location(alpha, created["id"]).secrets_encrypted
    settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = []

    response = admin_api.patch(url(alpha, f"/{created['id']}"), {"credentials": s3_server.credentials()})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage_endpoint_not_allowed"
    assert _location(alpha, created["id"]).secrets_encrypted == old_token


def test_unknown_credential_names_and_a_scan_schedule_on_a_writable_location_are_refused(
    alpha, admin_api, s3_server
):
    created = _created(alpha, admin_api, s3_server)

    unknown = admin_api.patch(url(alpha, f"/{created['id']}"), {"credentials": {"password": "x"}})
    scan = admin_api.patch(url(alpha, f"/{created['id']}"), {"scan_interval_minutes": 60})

    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "storage_config_invalid")
    assert (scan.status_code, list(scan.json()["error"]["detail"])) == (400, ["scan_interval_minutes"])


def test_members_and_other_tenants_cannot_edit_a_location(alpha, beta, admin_api, users, s3_server):
    created = _created(alpha, admin_api, s3_server)

    assert as_user(users["member"]).patch(url(alpha, f"/{created['id']}"), {"name": "x"}).status_code == 403
    beta_admin_call = as_user(users["beta_member"]).patch(url(beta, f"/{created['id']}"), {"name": "x"})
    assert beta_admin_call.status_code in (403, 404)
    assert _location(alpha, created["id"]).name == "Photos S3"


def test_an_empty_location_gets_a_new_reachable_prefix_and_one_with_images_is_refused(
    alpha, beta, users, admin_api, s3_server
):
    from tests.imagefiles import jpeg
    from tests.images.conftest import upload

    created = _created(alpha, admin_api, s3_server)

    moved = admin_api.patch(url(alpha, f"/{created['id']}"), {"prefix": "/archive/2026/"})

    assert moved.status_code == 200, moved.content
    assert _location(alpha, created["id"]).config["prefix"] == "archive/2026"
    with tenant_context(alpha):
        event = AuditEvent.objects.filter(action="storage.changed").latest("created_at")
    assert (event.details["before"], event.details["after"]) == ({"prefix": "dl"}, {"prefix": "archive/2026"})
    assert admin_api.post(url(alpha, f"/{created['id']}/test")).json()["ok"] is True

    bad = admin_api.patch(url(alpha, f"/{created['id']}"), {"prefix": "a/../b"})
    assert (bad.status_code, bad.json()["error"]["detail"]["prefix"]) == (400, ["invalid"])

    member = as_user(users["member"])
    assert upload(member, "sea.jpg", jpeg(320, 240), storage_config_id=created["id"]).status_code == 202
    refused = admin_api.patch(url(alpha, f"/{created['id']}"), {"prefix": "elsewhere"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "prefix_in_use"
    assert _location(alpha, created["id"]).config["prefix"] == "archive/2026"

    assert member.patch(url(alpha, f"/{created['id']}"), {"prefix": "x"}).status_code == 403
    assert as_user(users["beta_member"]).patch(
        url(alpha, f"/{created['id']}"), {"prefix": "x"}
    ).status_code in (
        403,
        404,
    )
    assert _location(alpha, created["id"]).config["prefix"] == "archive/2026"


def test_a_folder_location_has_no_prefix_to_change(alpha, admin_api):
    with tenant_context(alpha):
        folder = StorageLocation.objects.get(provider="filesystem", is_default=True)

    response = admin_api.patch(url(alpha, f"/{folder.pk}"), {"prefix": "elsewhere"})

    assert (response.status_code, response.json()["error"]["code"]) == (400, "prefix_not_supported")
    assert "prefix" not in _location(alpha, folder.pk).config
