from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.connection import connection
from apps.core.process_cache import invalidate
from apps.images.models import Image
from apps.jobs.models import Job
from apps.storage.crypto import CredentialsUnreadable, secrets_decrypt, secrets_encrypt, secrets_reencrypt
from apps.storage.errors import StorageCheckFailed, StorageConfigInvalid, StorageLocationInUse
from apps.storage.models import StorageLocation, StorageProvider
from apps.storage.providers import config_clean, location_check
from apps.storage.services.jobs import STORAGE_JOB_KINDS

DEFAULT_LOCATION_NAME = "Local files"


@transaction.atomic
def storage_location_create_default() -> StorageLocation:
    """The tenant's default filesystem location under DEEPLENS_MEDIA_ROOT (idempotent).

    Keys written there start with the tenant's slug ({tenant}/images/...), so tenants sharing the
    root never share a path.
    """
    existing = StorageLocation.objects.filter(is_default=True).first()
    if existing is not None:
        return existing
    location = StorageLocation(
        name=DEFAULT_LOCATION_NAME,
        provider=StorageProvider.FILESYSTEM,
        config={"root": str(settings.DEEPLENS_MEDIA_ROOT)},
        is_default=True,
    )
    location.full_clean()
    location.save()
    return location


def _forget_default() -> None:
    # every process reads the new default at its next upload (after the change is committed)
    schema = connection.schema_name
    transaction.on_commit(lambda: invalidate(schema, (schema, "default-storage-location")))


def _unsaved_location(*, tenant, name, provider, config, secrets, index_only) -> StorageLocation:
    config, secrets = config_clean(provider=provider, config=config, secrets=secrets, tenant_slug=tenant.slug)
    return StorageLocation(
        name=name,
        provider=provider,
        config=config,
        secrets_encrypted=secrets_encrypt(secrets),
        index_only=index_only,
    )


def storage_config_check(*, tenant, provider: str, config: dict, secrets: dict, index_only: bool) -> dict:
    """The connection test of a location not yet saved (the add form's "Test connection"); free of
    side effects: a folder that does not exist yet is reported (`folder_missing`), not created."""
    location = _unsaved_location(
        tenant=tenant, name="check", provider=provider, config=config, secrets=secrets, index_only=index_only
    )
    return location_check(location, create_missing=False)


def storage_location_create(
    *,
    tenant,
    actor: Actor,
    name: str,
    provider: str,
    config: dict,
    secrets: dict,
    index_only: bool = False,
    is_default: bool = False,
    scan_interval_minutes: int | None = None,
) -> StorageLocation:
    """Validate, reach the location (400 naming the problem if it cannot be reached), then save it.
    Credentials are stored encrypted and never returned."""
    name = (name or "").strip()
    if not name:
        raise StorageConfigInvalid("Give the location a name.", extra={"name": ["required"]})
    if StorageLocation.objects.filter(name=name).exists():
        raise StorageConfigInvalid(f"A location named {name!r} exists.", extra={"name": ["taken"]})
    if index_only and is_default:
        raise StorageConfigInvalid(
            "An index-only location cannot be the default for uploads.", extra={"is_default": ["index_only"]}
        )
    if scan_interval_minutes is not None and not index_only:
        raise StorageConfigInvalid(
            "Only index-only locations are scanned.", extra={"scan_interval_minutes": ["index_only"]}
        )
    location = _unsaved_location(
        tenant=tenant, name=name, provider=provider, config=config, secrets=secrets, index_only=index_only
    )
    location.scan_interval_minutes = scan_interval_minutes
    location_check(location)  # outside the transaction: network calls
    config = location.config
    with transaction.atomic():
        if index_only:
            location.thumbnail_location = StorageLocation.objects.filter(is_default=True).first()
        if is_default:
            StorageLocation.objects.filter(is_default=True).update(
                is_default=False, updated_at=timezone.now()
            )
            location.is_default = True
        location.full_clean()
        location.save()
        audit_record(
            actor=actor,
            action=AuditAction.STORAGE_CHANGED,
            tenant=tenant,
            target=location,
            details={
                "change": "created",
                "name": name,
                "provider": provider,
                "config": config,
                "index_only": index_only,
                "is_default": location.is_default,
            },
        )
    _forget_default()
    return location


@transaction.atomic
def storage_location_set_default(*, tenant, actor: Actor, location: StorageLocation) -> StorageLocation:
    if location.index_only:
        raise StorageConfigInvalid(
            "An index-only location cannot be the default for uploads.", code="storage_location_read_only"
        )
    if not location.is_default:
        StorageLocation.objects.filter(is_default=True).update(is_default=False, updated_at=timezone.now())
        location.is_default = True
        location.save(update_fields=["is_default", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.STORAGE_CHANGED,
            tenant=tenant,
            target=location,
            details={"change": "set_default", "name": location.name},
        )
    _forget_default()
    return location


@transaction.atomic
def storage_location_delete(*, tenant, actor: Actor, location: StorageLocation) -> None:
    """Only an empty location that is not the default and serves no other as thumbnail location."""
    location = StorageLocation.objects.select_for_update().get(pk=location.pk)
    images = Image.objects.filter(storage_location=location).count()
    if images:
        raise StorageLocationInUse(
            f"{location.name!r} holds {images} images; move them to another location first.",
            extra={"images": images},
        )
    if location.is_default:
        raise StorageLocationInUse(
            f"{location.name!r} is the default location; make another the default first.",
            code="storage_location_is_default",
        )
    if StorageLocation.objects.filter(thumbnail_location=location).exists():
        raise StorageLocationInUse(
            f"{location.name!r} keeps the thumbnails of an index-only location.",
            code="storage_location_in_use",
        )
    running = Job.objects.filter(
        kind__in=STORAGE_JOB_KINDS,
        state__in=Job.ACTIVE,
    ).filter(Q(params__location_id=str(location.pk)) | Q(params__target_id=str(location.pk)))
    if running.exists():
        raise StorageLocationInUse(
            f"A job is working on {location.name!r}; cancel it or wait.", code="storage_location_busy"
        )
    audit_record(
        actor=actor,
        action=AuditAction.STORAGE_CHANGED,
        tenant=tenant,
        target=location,
        details={"change": "deleted", "name": location.name, "provider": location.provider},
    )
    location.delete()


def storage_location_test(*, location: StorageLocation) -> dict:
    """The connectivity check as a result: {"ok": true, ...} or {"ok": false, "error": {...}}."""
    try:
        return location_check(location)
    except (StorageCheckFailed, StorageConfigInvalid, CredentialsUnreadable) as exc:
        return {"ok": False, **exc.as_dict()}


@transaction.atomic
def storage_location_ambient_set(
    *, tenant, actor: Actor, location: StorageLocation, allowed: bool
) -> StorageLocation:
    """Allow or forbid a location without keys to act with the host's own cloud identity. For
    global admins only (the Django admin); it takes effect where DEEPLENS_STORAGE_AMBIENT_CREDENTIALS
    also allows it."""
    location = StorageLocation.objects.select_for_update().get(pk=location.pk)
    if location.ambient_credentials != allowed:
        location.ambient_credentials = allowed
        location.full_clean()
        location.save(update_fields=["ambient_credentials", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.STORAGE_CHANGED,
            tenant=tenant,
            target=location,
            details={"change": "ambient_credentials", "name": location.name, "allowed": allowed},
        )
    return location


_UNSET: object = object()


def storage_location_update(
    *,
    tenant,
    actor: Actor,
    location: StorageLocation,
    name: str | None = None,
    credentials: dict | None = None,
    scan_interval_minutes=_UNSET,
    prefix: str | None = None,
) -> StorageLocation:
    """Rename a location, rotate its credentials, change its scan schedule, or (for a bucket or
    container location holding no images, trash included) point it at another prefix; the provider
    stays. Objects under the old prefix are left where they are: nothing is moved or deleted, and
    DeepLens no longer sees them (with images recorded there, a 400 prefix_in_use: migrate them
    first). A new prefix must be reachable (the connection test) before it is saved. New
    credentials are checked by the same rules as at creation and must reach the location (a fresh
    connection test, outside the transaction) before they replace the old ones, which are never
    returned. Audited without the secrets."""
    changes: dict = {}
    if name is not None:
        name = name.strip()
        if not name:
            raise StorageConfigInvalid("Give the location a name.", extra={"name": ["required"]})
        if name != location.name:
            if StorageLocation.objects.filter(name=name).exclude(pk=location.pk).exists():
                raise StorageConfigInvalid(f"A location named {name!r} exists.", extra={"name": ["taken"]})
            changes["name"] = name
    if scan_interval_minutes is not _UNSET and scan_interval_minutes != location.scan_interval_minutes:
        if scan_interval_minutes is not None and not location.index_only:
            raise StorageConfigInvalid(
                "Only index-only locations are scanned.", extra={"scan_interval_minutes": ["index_only"]}
            )
        changes["scan_interval_minutes"] = scan_interval_minutes
    config = location.config
    if prefix is not None and prefix.strip("/") != (location.config.get("prefix") or ""):
        if location.provider == StorageProvider.FILESYSTEM:
            raise StorageConfigInvalid(
                "A folder location has no prefix; add another location for another folder.",
                code="prefix_not_supported",
                extra={"prefix": ["not_supported"]},
            )
        images = Image.objects.filter(storage_location=location).count()
        if images:
            raise StorageConfigInvalid(
                f"{location.name!r} holds {images} images under its current prefix; changing it would "
                "lose them. Move them to another location first, or add a location for the new prefix.",
                code="prefix_in_use",
                extra={"prefix": ["in_use"], "images": images},
            )
        config = {**location.config, "prefix": prefix}
        changes["prefix"] = prefix.strip("/")
    secrets_encrypted = None
    if credentials is not None or "prefix" in changes:
        checked = _unsaved_location(
            tenant=tenant,
            name=location.name,
            provider=location.provider,
            config=config,
            secrets=credentials if credentials is not None else secrets_decrypt(location.secrets_encrypted),
            index_only=location.index_only,
        )
        location_check(checked)  # outside the transaction: network calls
        if credentials is not None:
            secrets_encrypted = checked.secrets_encrypted
        config = checked.config
    if not changes and secrets_encrypted is None:
        return location
    with transaction.atomic():
        locked = StorageLocation.objects.select_for_update().get(pk=location.pk)
        if "prefix" in changes and Image.objects.filter(storage_location=locked).exists():
            raise StorageConfigInvalid(
                f"{locked.name!r} received images meanwhile; its prefix stays.",
                code="prefix_in_use",
                extra={"prefix": ["in_use"]},
            )
        before = {
            field: (locked.config.get("prefix", "") if field == "prefix" else getattr(locked, field))
            for field in changes
        }
        for field, value in changes.items():
            if field != "prefix":
                setattr(locked, field, value)
        fields = [field for field in changes if field != "prefix"]
        if "prefix" in changes:
            locked.config = config
            fields.append("config")
        if secrets_encrypted is not None:
            locked.secrets_encrypted = secrets_encrypted
            fields.append("secrets_encrypted")
        locked.full_clean()
        locked.save(update_fields=[*fields, "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.STORAGE_CHANGED,
            tenant=tenant,
            target=locked,
            details={
                "change": "updated",
                "before": before,
                "after": changes,
                "credentials_rotated": secrets_encrypted is not None,
            },
        )
    _forget_default()
    return locked


def storage_secrets_rotate() -> dict[str, int]:
    """Re-encrypt every secret this workspace stores (storage credentials, webhook secrets) with the
    current DEEPLENS_STORAGE_KEY; the previous keys must still be in DEEPLENS_STORAGE_KEYS_PREVIOUS.
    Returns how many of each were re-encrypted."""
    from apps.webhooks.models import WebhookEndpoint

    counts = {"storage_locations": 0, "webhook_endpoints": 0}
    with transaction.atomic():
        for location in StorageLocation.objects.select_for_update().exclude(secrets_encrypted=""):
            location.secrets_encrypted = secrets_reencrypt(location.secrets_encrypted)
            location.save(update_fields=["secrets_encrypted", "updated_at"])
            counts["storage_locations"] += 1
        for endpoint in WebhookEndpoint.objects.select_for_update():
            endpoint.secret_encrypted = secrets_reencrypt(endpoint.secret_encrypted)
            endpoint.save(update_fields=["secret_encrypted", "updated_at"])
            counts["webhook_endpoints"] += 1
    return counts


def installation_secrets_rotate() -> dict[str, int]:
    """Re-encrypt the installation-wide secrets (in the public schema: TOTP seeds, SSO client
    secrets) with the current DEEPLENS_STORAGE_KEY; see storage_secrets_rotate for a workspace's."""
    from apps.accounts.models import SsoProvider, TotpDevice

    counts = {"totp_seeds": 0, "sso_client_secrets": 0}
    with transaction.atomic():
        for device in TotpDevice.objects.select_for_update():
            device.secret_encrypted = secrets_reencrypt(device.secret_encrypted)
            device.save(update_fields=["secret_encrypted"])
            counts["totp_seeds"] += 1
        for provider in SsoProvider.objects.select_for_update().exclude(client_secret_encrypted=""):
            provider.client_secret_encrypted = secrets_reencrypt(provider.client_secret_encrypted)
            provider.save(update_fields=["client_secret_encrypted"])
            counts["sso_client_secrets"] += 1
    return counts
