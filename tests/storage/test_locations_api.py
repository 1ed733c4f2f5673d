"""Storage locations through the API: create per provider against real servers, bad input, the
default, delete, test, usage; credentials encrypted and never returned; tenants and roles."""

import os

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.images.models import Image
from apps.storage.backends import storage_for
from apps.storage.crypto import secrets_decrypt
from apps.storage.models import StorageLocation
from tests.api import Api, as_user, host
from tests.factories import UserFactory
from tests.imagefiles import jpeg
from tests.images.conftest import upload
from tests.storage.conftest import AZURITE_KEY


def url(tenant, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/storage-config{rest}"


def s3_body(s3_server, bucket, **overrides) -> dict:
    body = {
        "name": overrides.pop("name", f"S3 {bucket}"),
        "provider": "s3",
        "config": {
            "bucket": bucket,
            "region": "us-east-1",
            "endpoint_url": s3_server.endpoint,
            "prefix": "dl",
        },
        "credentials": s3_server.credentials(),
    }
    body.update(overrides)
    return body


def locations(tenant) -> list[str]:
    with tenant_context(tenant):
        return sorted(StorageLocation.objects.values_list("name", flat=True))


def test_an_s3_location_is_created_after_reaching_the_bucket(alpha, admin_api, s3_server):
    bucket = s3_server.bucket()

    response = admin_api.post(url(alpha), s3_body(s3_server, bucket))

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["provider"] == "s3"
    assert data["config"] == {
        "bucket": bucket,
        "region": "us-east-1",
        "endpoint_url": s3_server.endpoint,
        "prefix": "dl",
    }
    assert data["has_credentials"] is True
    assert s3_server.secret_access_key not in response.content.decode()
    with tenant_context(alpha):
        location = StorageLocation.objects.get(pk=data["id"])
        assert s3_server.secret_access_key not in location.secrets_encrypted
        assert secrets_decrypt(location.secrets_encrypted) == s3_server.credentials()
        assert AuditEvent.objects.filter(action="storage.changed", target_id=str(location.pk)).count() == 1
    # The probe object written by the check is gone again.
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_the_list_never_returns_credentials(alpha, admin_api, s3_server):
    admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket()))

    response = admin_api.get(f"/api/v1/tenants/{alpha.pk}/storage-configs")

    assert response.status_code == 200
    body = response.content.decode()
    assert s3_server.secret_access_key not in body and s3_server.access_key_id not in body
    names = [row["name"] for row in response.json()["results"]]
    assert names[0] == "Local files" and len(names) == 2
    assert response.json()["results"][0]["usage"] == {"images": 0, "objects": 0, "bytes": 0}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            {"credentials": {"access_key_id": "AKIAWRONG00000000000", "secret_access_key": "wrong"}},
            "storage_credentials_invalid",
        ),
        ({"credentials": "secret-wrong"}, "storage_credentials_invalid"),
        ({"bucket": "no-such-bucket-here"}, "storage_bucket_not_found"),
        ({"endpoint_url": "http://127.0.0.1:9"}, "storage_endpoint_not_allowed"),  # not reachable
    ],
)
def test_creation_refuses_what_cannot_be_reached_naming_the_problem(
    alpha, admin_api, s3_server, change, code
):
    body = s3_body(s3_server, s3_server.bucket())
    if change.get("credentials") == "secret-wrong":
        body["credentials"] = {**s3_server.credentials(), "secret_access_key": "not-the-secret"}
    elif "credentials" in change:
        body["credentials"] = change["credentials"]
    else:
        body["config"].update(change)
    before = locations(alpha)

    response = admin_api.post(url(alpha), body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert locations(alpha) == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"provider": "s3", "config": {}}, "storage_config_invalid"),
        ({"provider": "s3", "config": {"bucket": "b-1", "colour": "red"}}, "storage_config_invalid"),
        (
            {"provider": "s3", "config": {"bucket": "b-1", "endpoint_url": "file:///etc"}},
            "storage_config_invalid",
        ),
        ({"provider": "s3", "config": {"bucket": "b-1", "prefix": "a/../b"}}, "storage_config_invalid"),
        ({"provider": "ftp", "config": {}}, "invalid_input"),
        (
            {"provider": "gcs", "config": {"bucket": "b-1"}, "credentials": {"service_account_json": "{"}},
            "storage_config_invalid",
        ),
        (
            {
                "provider": "gcs",
                "config": {"bucket": "b-1"},
                "credentials": {"service_account_json": {"type": "user"}},
            },
            "storage_config_invalid",
        ),
        ({"provider": "azure", "config": {"container": "c"}}, "storage_config_invalid"),
    ],
)
def test_invalid_configuration_is_a_400_and_changes_nothing(alpha, admin_api, body, code):
    before = locations(alpha)

    response = admin_api.post(url(alpha), {"name": "bad", **body})

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert locations(alpha) == before


@pytest.mark.parametrize(
    ("provider", "config", "credentials"),
    [
        ("s3", {"bucket": "b-1", "endpoint_url": "http://169.254.169.254/"}, {}),  # cloud metadata
        ("s3", {"bucket": "b-1", "endpoint_url": "http://10.1.2.3:9000"}, {}),
        ("s3", {"bucket": "b-1", "endpoint_url": "http://localhost:9000"}, {}),
        ("s3", {"bucket": "b-1", "endpoint_url": "http://[::1]:9000"}, {}),
        ("azure", {"container": "c", "account_name": "acct1", "endpoint_url": "http://192.168.0.10"}, {}),
        (
            "azure",
            {"container": "c"},
            {"connection_string": "AccountName=acct1;AccountKey=k;BlobEndpoint=http://127.0.0.1:10000/a;"},
        ),
    ],
)
def test_endpoints_on_internal_addresses_are_refused_unless_the_operator_allows_them(
    alpha, admin_api, settings, provider, config, credentials
):
    settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = []
    before = locations(alpha)

    response = admin_api.post(
        url(alpha), {"name": "internal", "provider": provider, "config": config, "credentials": credentials}
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "storage_endpoint_not_allowed"
    assert list(error["detail"].values()) == [["not_allowed"]]
    assert "DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS" in error["message"]
    assert locations(alpha) == before


def test_an_endpoint_whose_host_does_not_resolve_gets_the_answer_of_a_refused_one(alpha, admin_api, settings):
    """No distinct code or message: a tenant cannot tell internal names from missing ones."""
    settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = []
    internal = admin_api.post(
        url(alpha),
        {"name": "x", "provider": "s3", "config": {"bucket": "b-1", "endpoint_url": "http://10.1.2.3:9000"}},
    )
    response = admin_api.post(
        url(alpha),
        {
            "name": "x",
            "provider": "s3",
            "config": {"bucket": "b-1", "endpoint_url": "http://no-such-host.invalid"},
        },
    )

    assert response.status_code == internal.status_code == 400
    assert response.json() == internal.json()
    assert response.json()["error"]["code"] == "storage_endpoint_not_allowed"


def test_a_location_whose_endpoint_the_operator_no_longer_allows_is_not_connected_to(
    alpha, admin_api, member_api, s3_server, settings
):
    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket()))
    assert created.status_code == 201, created.content
    settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = []

    response = admin_api.post(url(alpha, f"/{created.json()['id']}/test"))

    assert response.status_code == 200, response.content
    assert response.json()["ok"] is False
    assert response.json()["error"]["code"] == "storage_endpoint_not_allowed"


def test_gcs_with_a_well_formed_key_and_no_reachable_google_is_a_clear_400(alpha, admin_api):
    """A key that parses, against an unreachable token endpoint, ends in a 400 naming the problem,
    not a 500 (the emulator test below covers the GCS API itself)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    key = {
        "type": "service_account",
        "project_id": "deeplens-test",
        "client_email": "dl@deeplens-test.iam.gserviceaccount.com",
        "private_key": pem,
        "token_uri": "http://127.0.0.1:9/token",
    }
    before = locations(alpha)

    response = admin_api.post(
        url(alpha),
        {
            "name": "gcs",
            "provider": "gcs",
            "config": {"bucket": "b-1"},
            "credentials": {"service_account_json": key},
        },
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("storage_endpoint_not_allowed", "storage_credentials_invalid")
    assert locations(alpha) == before


def test_filesystem_location_inside_the_allowed_root(alpha, admin_api, fs_roots):
    response = admin_api.post(
        url(alpha),
        {"name": "nas", "provider": "filesystem", "config": {"root": str(fs_roots / "alpha" / "photos")}},
    )

    assert response.status_code == 201, response.content
    assert response.json()["config"]["root"] == str((fs_roots / "alpha" / "photos").resolve())
    assert (fs_roots / "alpha" / "photos").is_dir()


@pytest.mark.parametrize("where", ["outside", "dotdot", "symlink", "other_tenant", "media"])
def test_filesystem_paths_outside_the_roots_are_forbidden(
    alpha, admin_api, fs_roots, tmp_path, settings, where
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (fs_roots / "alpha" / "escape").symlink_to(outside)
    root = {
        "outside": str(outside),
        "dotdot": str(fs_roots / "alpha" / ".." / "beta"),
        "symlink": str(fs_roots / "alpha" / "escape" / "inner"),
        "other_tenant": str(fs_roots / "beta"),
        "media": str(settings.DEEPLENS_MEDIA_ROOT),
    }[where]
    before = locations(alpha)

    response = admin_api.post(url(alpha), {"name": "x", "provider": "filesystem", "config": {"root": root}})

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "storage_path_forbidden"
    assert locations(alpha) == before
    assert not (outside / "inner").exists()


def test_an_index_only_folder_must_exist(alpha, admin_api, fs_roots):
    response = admin_api.post(
        url(alpha),
        {
            "name": "x",
            "provider": "filesystem",
            "index_only": True,
            "config": {"root": str(fs_roots / "alpha" / "nope")},
        },
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage_path_not_found"


def test_set_default_moves_new_uploads_to_the_new_location(alpha, admin_api, member_api, s3_server):
    bucket = s3_server.bucket()
    created = admin_api.post(url(alpha), s3_body(s3_server, bucket)).json()

    response = admin_api.call("put", url(alpha, f"/{created['id']}/set-default"))
    uploaded = upload(member_api, "sea.jpg", jpeg(320, 240))

    assert response.status_code == 200 and response.json()["is_default"] is True
    assert uploaded.status_code == 202, uploaded.content
    with tenant_context(alpha):
        image = Image.objects.get(pk=uploaded.json()["id"])
        assert str(image.storage_location_id) == created["id"]
        assert StorageLocation.objects.filter(is_default=True).count() == 1
    keys = [obj["Key"] for obj in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"dl/{image.storage_key}"]


def test_upload_to_a_chosen_s3_location_and_read_it_back(alpha, admin_api, member_api, s3_server):
    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()
    data = jpeg(320, 240)

    uploaded = upload(member_api, "sea.jpg", data, storage_config_id=created["id"])
    download = member_api.get(f"/api/v1/images/{uploaded.json()['id']}/download")

    assert uploaded.status_code == 202, uploaded.content
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data


def test_an_index_only_location_takes_no_uploads(alpha, admin_api, member_api, fs_roots):
    created = admin_api.post(
        url(alpha),
        {
            "name": "ro",
            "provider": "filesystem",
            "index_only": True,
            "config": {"root": str(fs_roots / "alpha")},
        },
    ).json()

    response = upload(member_api, "sea.jpg", jpeg(64, 64), storage_config_id=created["id"])
    set_default = admin_api.call("put", url(alpha, f"/{created['id']}/set-default"))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage_location_read_only"
    assert set_default.status_code == 400
    assert list(fs_roots.joinpath("alpha").iterdir()) == []


def test_delete_refuses_a_location_holding_images_and_the_default(alpha, admin_api, member_api, s3_server):
    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()
    upload(member_api, "sea.jpg", jpeg(64, 64), storage_config_id=created["id"])
    with tenant_context(alpha):
        default_id = StorageLocation.objects.get(is_default=True).pk

    in_use = admin_api.delete(url(alpha, f"/{created['id']}"))
    default = admin_api.delete(url(alpha, f"/{default_id}"))

    assert in_use.status_code == 409 and in_use.json()["error"]["code"] == "storage_location_in_use"
    assert in_use.json()["error"]["detail"] == {"images": 1}
    assert default.status_code == 409 and default.json()["error"]["code"] == "storage_location_is_default"
    assert len(locations(alpha)) == 2


def test_delete_an_empty_location(alpha, admin_api, s3_server):
    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()

    response = admin_api.delete(url(alpha, f"/{created['id']}"))

    assert response.status_code == 204
    assert locations(alpha) == ["Local files"]


def test_the_connection_test_reports_a_broken_location(alpha, admin_api, s3_server):
    bucket = s3_server.bucket()
    created = admin_api.post(url(alpha), s3_body(s3_server, bucket)).json()
    ok = admin_api.post(url(alpha, f"/{created['id']}/test"))
    s3_server.client().delete_bucket(Bucket=bucket)

    broken = admin_api.post(url(alpha, f"/{created['id']}/test"))

    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert broken.status_code == 200
    assert broken.json()["ok"] is False
    assert broken.json()["error"]["code"] == "storage_bucket_not_found"


def test_usage_counts_originals_and_thumbnails(alpha, admin_api, member_api, s3_server):
    from tests.images.conftest import process

    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()
    response = upload(member_api, "big.jpg", jpeg(1600, 1200), storage_config_id=created["id"])
    image = process(alpha, response.json()["id"])
    thumbnails = [t for t in image.thumbnails.all() if t.storage_key != image.storage_key]

    usage = admin_api.get(url(alpha, f"/{created['id']}/usage"))

    assert usage.status_code == 200
    assert usage.json() == {
        "id": created["id"],
        "images": 1,
        "objects": 1 + len(thumbnails),
        "bytes": image.size_bytes + sum(t.size_bytes for t in thumbnails),
    }
    assert len(thumbnails) == 3
    with tenant_context(alpha):
        storage = storage_for(StorageLocation.objects.get(pk=created["id"]))
        assert all(storage.exists(t.storage_key) for t in thumbnails)


def test_another_tenants_id_is_404_and_its_locations_are_invisible(alpha, beta, users, s3_server):
    alpha_admin = as_user(users[Role.ADMIN])
    created = alpha_admin.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()
    beta_admin = as_user(UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test"))

    wrong_tenant = alpha_admin.get(f"/api/v1/tenants/{beta.pk}/storage-configs")
    beta_list = beta_admin.get(f"/api/v1/tenants/{beta.pk}/storage-configs")
    beta_usage = beta_admin.get(f"/api/v1/tenants/{beta.pk}/storage-config/{created['id']}/usage")
    beta_delete = beta_admin.delete(f"/api/v1/tenants/{beta.pk}/storage-config/{created['id']}")
    alpha_token_on_beta = Api(host(beta), alpha_admin.headers["HTTP_AUTHORIZATION"]).get(
        f"/api/v1/tenants/{beta.pk}/storage-configs"
    )

    assert wrong_tenant.status_code == 404
    assert [row["name"] for row in beta_list.json()["results"]] == ["Local files"]
    assert beta_usage.status_code == 404
    assert beta_delete.status_code == 404
    assert alpha_token_on_beta.status_code == 403
    assert len(locations(alpha)) == 2


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_admins_manage_storage(alpha, users, s3_server, role):
    api = as_user(users[role])

    created = api.post(url(alpha), s3_body(s3_server, s3_server.bucket()))
    listed = api.get(f"/api/v1/tenants/{alpha.pk}/storage-configs")

    assert created.status_code == 403 and listed.status_code == 403
    assert locations(alpha) == ["Local files"]


def test_azure_location_against_azurite(alpha, admin_api, member_api, azurite):
    container = azurite.container()
    body = {
        "name": "azure",
        "provider": "azure",
        "config": {
            "container": container,
            "account_name": "devstoreaccount1",
            "endpoint_url": azurite.endpoint,
        },
        "credentials": {"account_key": AZURITE_KEY},
    }

    created = admin_api.post(url(alpha), body)
    data = jpeg(200, 100)
    uploaded = upload(member_api, "az.jpg", data, storage_config_id=created.json()["id"])
    download = member_api.get(f"/api/v1/images/{uploaded.json()['id']}/download")
    wrong = admin_api.post(
        url(alpha), {**body, "name": "azure wrong", "credentials": {"account_key": "A" * 86 + "=="}}
    )
    missing = admin_api.post(
        url(alpha), {**body, "name": "azure missing", "config": {**body["config"], "container": "nothere"}}
    )

    assert created.status_code == 201, created.content
    assert uploaded.status_code == 202, uploaded.content
    assert b"".join(download.streaming_content) == data
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "storage_credentials_invalid"
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "storage_bucket_not_found"


def test_gcs_location_against_the_emulator(alpha, admin_api, member_api, gcs_server):
    """Through the GCS JSON API of gcp-storage-emulator (anonymous, as emulators are): the probe,
    an upload, its processing (thumbnails written to the bucket), the download, a scan listing."""
    from apps.images.services import image_process
    from apps.storage.backends import list_objects

    bucket = gcs_server.bucket()
    body = {
        "name": "gcs",
        "provider": "gcs",
        "config": {"bucket": bucket, "prefix": "dl", "endpoint_url": gcs_server.endpoint},
    }

    created = admin_api.post(url(alpha), body)
    data = jpeg(900, 600)
    uploaded = upload(member_api, "gcs.jpg", data, storage_config_id=created.json()["id"])
    image_id = uploaded.json()["id"]
    with tenant_context(alpha):
        image = image_process(image_id=image_id, tenant_slug=alpha.slug)
        location = StorageLocation.objects.get(pk=created.json()["id"])
        keys = sorted(obj.key for page in list_objects(location, prefix="") for obj in page)
    download = member_api.get(f"/api/v1/images/{image_id}/download")
    thumbnail = member_api.get(f"/api/v1/images/{image_id}/thumbnail?spec=small")
    missing = admin_api.post(
        url(alpha), {**body, "name": "gcs missing", "config": {**body["config"], "bucket": "nothere"}}
    )

    assert created.status_code == 201, created.content
    assert uploaded.status_code == 202, uploaded.content
    assert image.status == "ready", image.failure_reason
    assert b"".join(download.streaming_content) == data
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
    assert image.storage_key in keys
    assert sum("/thumbnails/" in key for key in keys) == 2  # small and medium; large is the original
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "storage_bucket_not_found"


def test_credentials_key_comes_from_the_environment(settings):
    from cryptography.fernet import Fernet

    from apps.storage.crypto import secrets_encrypt

    settings.DEEPLENS_STORAGE_KEY = Fernet.generate_key().decode()
    token = secrets_encrypt({"secret_access_key": "s3cr3t"})
    settings.DEEPLENS_STORAGE_KEY = Fernet.generate_key().decode()

    with pytest.raises(Exception, match="cannot be decrypted"):
        secrets_decrypt(token)


def test_the_storage_probe_leaves_nothing_in_a_filesystem_root(alpha, admin_api, fs_roots):
    admin_api.post(
        url(alpha), {"name": "nas", "provider": "filesystem", "config": {"root": str(fs_roots / "alpha")}}
    )

    assert os.listdir(fs_roots / "alpha") == []
