"""Rotating the installation's storage key: the old key stays readable (MultiFernet) while
`deeplens_rotate_storage_key` re-encrypts every stored secret; after it, every location still
connects and every webhook still signs without the old key."""

from cryptography.fernet import Fernet
from django.core.management import call_command
from django_tenants.utils import tenant_context

from apps.storage.crypto import secrets_decrypt
from apps.storage.models import StorageLocation
from apps.webhooks.models import WebhookEndpoint
from apps.webhooks.services import endpoint_secret
from tests.storage.test_locations_api import s3_body, url


def test_every_location_still_connects_after_the_key_is_rotated(alpha, admin_api, s3_server, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DEEPLENS_STORAGE_KEY = old
    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()
    settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    hook = admin_api.post("webhooks", {"url": "http://127.0.0.1:9/h", "events": ["job.finished"]}).json()
    with tenant_context(alpha):
        before = StorageLocation.objects.get(pk=created["id"]).secrets_encrypted

    settings.DEEPLENS_STORAGE_KEY, settings.DEEPLENS_STORAGE_KEYS_PREVIOUS = new, [old]
    assert admin_api.post(url(alpha, f"/{created['id']}/test")).json()["ok"] is True  # read with the old key
    call_command("deeplens_rotate_storage_key", verbosity=0)
    settings.DEEPLENS_STORAGE_KEYS_PREVIOUS = []

    assert admin_api.post(url(alpha, f"/{created['id']}/test")).json()["ok"] is True
    with tenant_context(alpha):
        location = StorageLocation.objects.get(pk=created["id"])
        assert location.secrets_encrypted != before
        assert secrets_decrypt(location.secrets_encrypted) == s3_server.credentials()
        assert endpoint_secret(WebhookEndpoint.objects.get(pk=hook["id"])) == hook["secret"]


def test_without_the_old_key_the_credentials_are_reported_unreadable(alpha, admin_api, s3_server, settings):
    old = Fernet.generate_key().decode()
    settings.DEEPLENS_STORAGE_KEY = old
    created = admin_api.post(url(alpha), s3_body(s3_server, s3_server.bucket())).json()

    settings.DEEPLENS_STORAGE_KEY = Fernet.generate_key().decode()
    result = admin_api.post(url(alpha, f"/{created['id']}/test")).json()

    assert (result["ok"], result["error"]["code"]) == (False, "storage_credentials_unreadable")
