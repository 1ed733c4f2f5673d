"""The one way DeepLens reads and writes files: a Django Storage per storage location
(FileSystemStorage, or django-storages' S3 / Azure / Google backends), plus the few operations the
Storage API lacks: listing page by page with ETags, reading an object's first bytes, hashing.

Keys are relative to the location (its root folder, or its bucket and prefix) and, for what DeepLens
writes, start with the tenant's slug:
    {tenant}/images/{yyyy}/{mm}/{image_id}.{ext}
    {tenant}/thumbnails/{spec}/{yyyy}/{mm}/{image_id}.{fmt}
Index-only locations keep the keys of the objects found there.
"""

import functools
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage

from apps.core.errors import ServiceUnavailable
from apps.storage.crypto import secrets_decrypt
from apps.storage.models import StorageLocation, StorageProvider

PAGE_SIZE = 1000
CHUNK = 1024 * 1024


class StorageNotSupported(ServiceUnavailable):
    code = "storage_provider_unavailable"


@dataclass(frozen=True)
class StoredObject:
    key: str  # relative to the location
    size: int
    # What changes when the content does: the ETag, or size + mtime on a filesystem.
    version: str


# A client is rebuilt (its hosts checked and resolved again) after this long, so that pinned
# addresses follow a legitimate endpoint's DNS changes (apps/storage/pinning.py).
CLIENT_SECONDS = 600
_cache: dict[tuple, tuple[Storage, float]] = {}
_cache_lock = threading.Lock()


def storage_for(location: StorageLocation) -> Storage:
    """The Storage of this location, built once per process and per version of its settings (and
    again every CLIENT_SECONDS)."""
    cache_key = (
        str(location.pk),
        location.provider,
        repr(sorted(location.config.items())),
        location.secrets_encrypted,
    )
    cached = _cache.get(cache_key)
    if cached is not None and time.monotonic() - cached[1] < CLIENT_SECONDS:
        return cached[0]
    storage = build_storage(location)
    with _cache_lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[cache_key] = (storage, time.monotonic())
    return storage


def thumbnail_storage_for(location: StorageLocation) -> Storage:
    """Where this location's thumbnails are written: the location itself, or for an index-only
    location (never written to) its thumbnail location."""
    if location.index_only and location.thumbnail_location is not None:
        return storage_for(location.thumbnail_location)
    return storage_for(location)


def thumbnail_storage_of(location: StorageLocation, *, key: str, original_key: str) -> Storage:
    """Where one thumbnail is read: with the original when the original serves as the thumbnail."""
    return storage_for(location) if key == original_key else thumbnail_storage_for(location)


@functools.cache
def _s3_storage_class():
    """django-storages' S3Storage whose boto3 clients connect to the checked addresses
    (apps/storage/pinning.py); it makes one resource per thread."""
    from storages.backends.s3 import S3Storage

    from apps.storage.pinning import pin_botocore_client

    class PinnedS3Storage(S3Storage):
        def __init__(self, *, pins, **options):
            self.pins = pins
            super().__init__(**options)

        @property
        def connection(self):
            resource = super().connection
            if not getattr(resource, "_deeplens_pinned", False):
                pin_botocore_client(resource.meta.client, self.pins)
                resource._deeplens_pinned = True
            return resource

        @property
        def unsigned_connection(self):
            resource = super().unsigned_connection
            if not getattr(resource, "_deeplens_pinned", False):
                pin_botocore_client(resource.meta.client, self.pins)
                resource._deeplens_pinned = True
            return resource

    return PinnedS3Storage


@functools.cache
def _gcs_storage_class():
    """django-storages' GoogleCloudStorage with a client built from explicit parts: the credentials
    given (never Application Default Credentials unless the operator allows them for the location),
    a project that is never looked up from the host, the JSON API endpoint configurable (emulators
    and private endpoints; its own `custom_endpoint` only changes the URLs it generates), and
    connections pinned to the checked addresses (the API and a service account's token_uri)."""
    from storages.backends.gcloud import GoogleCloudStorage

    class EndpointGoogleCloudStorage(GoogleCloudStorage):
        _client: Any

        def __init__(self, *, api_endpoint: str | None = None, pins=None, **options):
            self.api_endpoint = api_endpoint
            self.pins = pins
            super().__init__(**options)

        @property
        def client(self):
            if self._client is None:
                import google.auth
                from google.auth.transport.requests import AuthorizedSession, Request
                from google.cloud.storage import Client

                from apps.storage.pinning import pinned_requests_session

                credentials, project = self.credentials, self.project_id
                auth_request: Request | None = Request(session=pinned_requests_session(self.pins))
                if credentials is None:  # the host's own identity: the operator allowed it here
                    credentials, found = google.auth.default(scopes=Client.SCOPE)
                    project = project or found
                    auth_request = None  # the metadata server or the host's key file, not the tenant's
                http = AuthorizedSession(credentials, auth_request=auth_request)
                pinned_requests_session(self.pins, session=http)
                self._client = Client(
                    project=project or "deeplens",
                    credentials=credentials,
                    client_options={"api_endpoint": self.api_endpoint} if self.api_endpoint else None,
                    _http=http,
                )
            return self._client

    return EndpointGoogleCloudStorage


@functools.cache
def _azure_storage_class():
    """django-storages' AzureStorage with the BlobServiceClient built from parts the Azure SDK's own
    parser produced and DeepLens checked (apps/storage/endpoints.py), with the storage timeout and a
    bounded retry policy (its own from_connection_string path takes neither), and a transport
    pinned to the checked addresses."""
    from azure.core.pipeline.transport import RequestsTransport
    from azure.storage.blob import BlobServiceClient
    from storages.backends.azure_storage import AzureStorage

    from apps.storage.pinning import pinned_requests_session

    class CheckedAzureStorage(AzureStorage):
        def __init__(self, *, parts, retry_policy, pins, **options):
            self.parts = parts
            self.retry_policy = retry_policy
            self.pins = pins
            super().__init__(account_name=parts.account_name, account_key=parts.account_key, **options)

        def _get_service_client(self):
            return BlobServiceClient(
                self.parts.account_url,
                credential=self.parts.credential,
                secondary_hostname=self.parts.secondary_hostname,
                retry_policy=self.retry_policy,
                transport=RequestsTransport(
                    session=pinned_requests_session(self.pins),
                    session_owner=False,
                    use_env_settings=False,
                    connection_timeout=self.timeout,
                    read_timeout=self.timeout,
                ),
            )

    return CheckedAzureStorage


def ambient_credentials_allowed(location: StorageLocation) -> bool:
    """The host's own cloud identity (instance metadata, environment, ~/.aws) for a location without
    keys: only where the installation allows it at all and a global admin allowed it for this one."""
    return bool(settings.DEEPLENS_STORAGE_AMBIENT_CREDENTIALS and location.ambient_credentials)


def build_storage(location: StorageLocation, *, checking: bool = False) -> Storage:
    """A client for the location; its endpoints are checked first (apps/storage/endpoints.py) and
    its connections pinned to the checked addresses (apps/storage/pinning.py). `checking` (the
    connection test) makes one attempt per request, so the test ends within the storage timeout
    instead of after the SDK's retries."""
    from apps.storage.endpoints import azure_client_parts, location_endpoints_check, s3_addressing_style
    from apps.storage.pinning import Pins

    config = location.config
    secrets = secrets_decrypt(location.secrets_encrypted)
    timeout = settings.DEEPLENS_STORAGE_TIMEOUT_SECONDS
    attempts = 1 if checking else 3
    ambient = ambient_credentials_allowed(location)
    if location.provider == StorageProvider.FILESYSTEM:
        root = config["root"]
        if not location.index_only:
            Path(root).mkdir(parents=True, exist_ok=True)
        return FileSystemStorage(location=root, allow_overwrite=True)
    if location.provider == StorageProvider.S3:
        from botocore import UNSIGNED
        from botocore.config import Config

        pins = location_endpoints_check(provider=location.provider, config=config, secrets=secrets)
        keys = bool(secrets.get("access_key_id") and secrets.get("secret_access_key"))
        return _s3_storage_class()(
            pins=pins,
            bucket_name=config["bucket"],
            location=config.get("prefix", ""),
            region_name=config.get("region") or None,
            endpoint_url=config.get("endpoint_url") or None,
            access_key=secrets.get("access_key_id") or None,
            secret_key=secrets.get("secret_access_key") or None,
            security_token=None,
            session_profile=None,
            file_overwrite=True,
            default_acl=None,
            querystring_auth=False,
            addressing_style=s3_addressing_style(config),
            client_config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": attempts, "mode": "standard"},
                # Without keys: anonymous requests (a public bucket), never the host's own identity
                # (instance metadata, environment) unless the operator allows it for this location.
                signature_version="s3v4" if keys or ambient else UNSIGNED,
                max_pool_connections=16,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
    if location.provider == StorageProvider.AZURE:
        from azure.storage.blob import ExponentialRetry

        azure_pins: dict[str, tuple[str, ...]] = {}
        parts = azure_client_parts(config=config, secrets=secrets, pins=azure_pins)
        return _azure_storage_class()(
            parts=parts,
            pins=Pins(azure_pins),
            retry_policy=ExponentialRetry(
                initial_backoff=1, increment_base=2, retry_total=attempts - 1, random_jitter_range=1
            ),
            azure_container=config["container"],
            location=config.get("prefix", ""),
            overwrite_files=True,
            timeout=timeout,
            expiration_secs=None,
        )
    if location.provider == StorageProvider.GCS:
        from google.auth.credentials import AnonymousCredentials
        from google.oauth2 import service_account

        pins = location_endpoints_check(provider=location.provider, config=config, secrets=secrets)
        credentials = None if ambient else AnonymousCredentials()  # a public bucket, or an emulator
        if secrets.get("service_account_json"):
            credentials = service_account.Credentials.from_service_account_info(
                secrets["service_account_json"]
            )
        return _gcs_storage_class()(
            api_endpoint=config.get("endpoint_url") or None,
            pins=pins,
            bucket_name=config["bucket"],
            location=config.get("prefix", ""),
            project_id=config.get("project_id") or None,
            credentials=credentials,
            file_overwrite=True,
            default_acl=None,
            querystring_auth=False,
        )
    raise StorageNotSupported(
        f"The storage location {location.name!r} uses {location.provider!r}, which this installation "
        "does not know.",
        extra={"provider": location.provider},
    )


# A django-storages backend (S3Storage, AzureStorage, GoogleCloudStorage). django-storages has no types,
# so what the vendor branches below use of them (bucket, client, location, ...) is unchecked.
VendorStorage = Any


def _prefixed(storage: VendorStorage, key: str) -> str:
    """The object name in the bucket or container of a django-storages backend."""
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(key))


def _relative(storage: VendorStorage, name: str) -> str:
    base = storage.location.strip("/")
    return name[len(base) + 1 :] if base and name.startswith(base + "/") else name


def list_objects(
    location: StorageLocation, *, prefix: str = "", storage: VendorStorage = None
) -> Iterator[list[StoredObject]]:
    """Every object under `prefix`, a page (at most PAGE_SIZE) at a time; never all in memory."""
    storage = storage or storage_for(location)
    prefix = prefix.lstrip("/")
    if location.provider == StorageProvider.FILESYSTEM:
        yield from _list_filesystem(Path(location.config["root"]), prefix)
    elif location.provider == StorageProvider.S3:
        client = storage.connection.meta.client
        full_prefix = (storage.location.strip("/") + "/" if storage.location.strip("/") else "") + prefix
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=storage.bucket_name, Prefix=full_prefix, PaginationConfig={"PageSize": PAGE_SIZE}
        ):
            objects = [
                StoredObject(
                    key=_relative(storage, item["Key"]), size=item["Size"], version=item["ETag"].strip('"')
                )
                for item in page.get("Contents", [])
                if not item["Key"].endswith("/")
            ]
            if objects:
                yield objects
    elif location.provider == StorageProvider.AZURE:
        container = storage.client
        full_prefix = (storage.location.strip("/") + "/" if storage.location.strip("/") else "") + prefix
        for page in container.list_blobs(
            name_starts_with=full_prefix or None, results_per_page=PAGE_SIZE
        ).by_page():
            objects = [
                StoredObject(
                    key=_relative(storage, blob.name), size=blob.size, version=str(blob.etag).strip('"')
                )
                for blob in page
            ]
            if objects:
                yield objects
    elif location.provider == StorageProvider.GCS:
        full_prefix = (storage.location.strip("/") + "/" if storage.location.strip("/") else "") + prefix
        for page in storage.bucket.list_blobs(prefix=full_prefix or None, page_size=PAGE_SIZE).pages:
            objects = [
                StoredObject(key=_relative(storage, blob.name), size=blob.size, version=blob.etag or "")
                for blob in page
                if not blob.name.endswith("/")
            ]
            if objects:
                yield objects


def _list_filesystem(root: Path, prefix: str) -> Iterator[list[StoredObject]]:
    """os.scandir, depth first, without following symlinks out of the tree; prefix is a folder or a
    name prefix like S3's."""
    folder, _, name_start = prefix.rpartition("/")
    start = root / folder if folder else root
    page: list[StoredObject] = []
    stack = [start]
    first = True
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if first and name_start and not entry.name.startswith(name_start):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                stat = entry.stat(follow_symlinks=False)
                key = Path(entry.path).relative_to(root).as_posix()
                page.append(
                    StoredObject(key=key, size=stat.st_size, version=f"{stat.st_size}-{stat.st_mtime_ns}")
                )
                if len(page) >= PAGE_SIZE:
                    yield page
                    page = []
        first = False
    if page:
        yield page


def _shared_s3_client(storage) -> Any:
    """One boto3 client for every thread (clients are thread-safe; django-storages makes one
    resource per thread, which costs a session each)."""
    client = getattr(storage, "_deeplens_shared_client", None)
    if client is None:
        client = storage.connection.meta.client
        storage._deeplens_shared_client = client
    return client


def read_head(location: StorageLocation, key: str, length: int = 64) -> bytes:
    """The first `length` bytes of an object (a ranged read; never the whole object)."""
    storage: VendorStorage = storage_for(location)
    if location.provider == StorageProvider.FILESYSTEM:
        with open(storage.path(key), "rb") as file:
            return file.read(length)
    if location.provider == StorageProvider.S3:
        response = _shared_s3_client(storage).get_object(
            Bucket=storage.bucket_name, Key=_prefixed(storage, key), Range=f"bytes=0-{length - 1}"
        )
        return response["Body"].read()
    if location.provider == StorageProvider.AZURE:
        blob = storage.client.get_blob_client(_prefixed(storage, key))
        return blob.download_blob(offset=0, length=length).readall()
    if location.provider == StorageProvider.GCS:
        return storage.bucket.blob(_prefixed(storage, key)).download_as_bytes(start=0, end=length - 1)
    raise StorageNotSupported(f"Cannot read from {location.provider!r}.")


def transfer_errors() -> tuple[type[Exception], ...]:
    """The exceptions a read or write of object storage raises when it fails (network, refused,
    missing): OSError, and those of the vendor SDKs."""
    errors: list[type[Exception]] = [OSError]
    try:
        from botocore.exceptions import BotoCoreError, ClientError

        errors += [BotoCoreError, ClientError]
    except ImportError:  # pragma: no cover
        pass
    try:
        from azure.core.exceptions import AzureError

        errors.append(AzureError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from google.api_core.exceptions import GoogleAPIError

        errors.append(GoogleAPIError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def sha256_of(storage: Storage, key: str) -> str:
    digest = hashlib.sha256()
    with storage.open(key, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def copy_object(source: Storage, target: Storage, key: str) -> str:
    """Copy one object under the same key through a spooled file (memory up to 8 MB, disk above);
    returns the SHA-256 of what was read from the source."""
    digest = hashlib.sha256()
    with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
        with source.open(key, "rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
                spool.write(chunk)
        spool.seek(0)
        target.save(key, File(spool, name=key.rsplit("/", 1)[-1]))
    return digest.hexdigest()


def original_key(*, tenant_slug: str, image_id, created: datetime, ext: str) -> str:
    return f"{tenant_slug}/images/{created:%Y}/{created:%m}/{image_id}.{ext}"


def thumbnail_key(*, tenant_slug: str, spec: str, image_id, created: datetime, fmt: str) -> str:
    return f"{tenant_slug}/thumbnails/{spec}/{created:%Y}/{created:%m}/{image_id}.{fmt}"
