"""Per-provider configuration: which settings and credentials each provider takes, filesystem roots,
and the connectivity check that runs before a location is saved and on demand."""

import os
import time
import uuid
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile

from apps.storage.endpoints import location_endpoints_check, refused
from apps.storage.errors import StorageCheckFailed, StorageConfigInvalid, StoragePathForbidden
from apps.storage.models import StorageLocation, StorageProvider

# provider -> (settings kept in config, required settings, credentials kept encrypted)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    StorageProvider.FILESYSTEM: (("root",), ("root",), ()),
    StorageProvider.S3: (
        ("bucket", "prefix", "region", "endpoint_url", "addressing_style"),
        ("bucket",),
        ("access_key_id", "secret_access_key"),
    ),
    StorageProvider.AZURE: (
        ("container", "prefix", "account_name", "endpoint_url"),
        ("container",),
        ("account_key", "connection_string", "sas_token"),
    ),
    StorageProvider.GCS: (
        ("bucket", "prefix", "project_id", "endpoint_url"),
        ("bucket",),
        ("service_account_json",),
    ),
}
SERVICE_ACCOUNT_FIELDS = ("type", "client_email", "private_key", "token_uri")


def config_clean(*, provider: str, config: dict, secrets: dict, tenant_slug: str) -> tuple[dict, dict]:
    """The config and credentials this provider takes, stripped and checked; unknown keys refused."""
    if provider not in FIELDS:
        raise StorageConfigInvalid(
            f"Unknown provider {provider!r}.", extra={"provider": [f"one of {', '.join(FIELDS)}"]}
        )
    allowed, required, secret_names = FIELDS[provider]
    unknown = sorted(set(config) - set(allowed)) + sorted(set(secrets) - set(secret_names))
    if unknown:
        raise StorageConfigInvalid(
            f"{provider} locations do not take {', '.join(unknown)}.", extra={"unknown": unknown}
        )
    cleaned = {name: str(config[name]).strip() for name in allowed if str(config.get(name) or "").strip()}
    missing = [name for name in required if name not in cleaned]
    if missing:
        raise StorageConfigInvalid(
            f"{provider} locations need {', '.join(missing)}.", extra={name: ["required"] for name in missing}
        )
    if "prefix" in cleaned:
        prefix = cleaned["prefix"].strip("/")
        if ".." in PurePosixPath(prefix).parts:
            raise StorageConfigInvalid("The prefix may not contain '..'.", extra={"prefix": ["invalid"]})
        cleaned["prefix"] = prefix
        if not prefix:
            del cleaned["prefix"]
    if cleaned.get("addressing_style") not in (None, "auto", "path", "virtual"):
        raise StorageConfigInvalid(
            "addressing_style is auto, path or virtual.", extra={"addressing_style": ["invalid"]}
        )
    if provider == StorageProvider.FILESYSTEM:
        cleaned["root"] = filesystem_root_check(cleaned["root"], tenant_slug=tenant_slug)
    kept_secrets = {name: secrets[name] for name in secret_names if secrets.get(name)}
    if provider == StorageProvider.S3 and bool(kept_secrets.get("access_key_id")) != bool(
        kept_secrets.get("secret_access_key")
    ):
        raise StorageConfigInvalid(
            "Give both access_key_id and secret_access_key, or neither (anonymous access, or the host's "
            "credentials where the operator allows them).",
            extra={"credentials": ["incomplete"]},
        )
    if provider == StorageProvider.AZURE and not (
        kept_secrets.get("connection_string") or cleaned.get("account_name")
    ):
        raise StorageConfigInvalid(
            "Azure locations need account_name (with account_key or sas_token) or a connection_string.",
            extra={"account_name": ["required"]},
        )
    if provider == StorageProvider.GCS and "service_account_json" in kept_secrets:
        kept_secrets["service_account_json"] = _service_account(kept_secrets["service_account_json"])
    location_endpoints_check(provider=provider, config=cleaned, secrets=kept_secrets)
    return cleaned, kept_secrets


def _service_account(value) -> dict:
    import json

    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise StorageConfigInvalid(
                "service_account_json is not valid JSON.", extra={"service_account_json": ["invalid"]}
            ) from exc
    if not isinstance(value, dict) or value.get("type") != "service_account":
        raise StorageConfigInvalid(
            "service_account_json must be a Google service account key (type service_account).",
            extra={"service_account_json": ["invalid"]},
        )
    missing = [name for name in SERVICE_ACCOUNT_FIELDS if not value.get(name)]
    if missing:
        raise StorageConfigInvalid(
            f"The service account key lacks {', '.join(missing)}.", extra={"service_account_json": missing}
        )
    from google.oauth2 import service_account

    try:
        service_account.Credentials.from_service_account_info(value)
    except ValueError as exc:
        raise StorageConfigInvalid(
            "The service account key's private_key cannot be read.",
            extra={"service_account_json": ["private_key invalid"]},
        ) from exc
    return value


def allowed_roots(tenant_slug: str) -> list[Path]:
    return [Path(root.replace("{tenant}", tenant_slug)).resolve() for root in settings.DEEPLENS_FS_ROOTS]


def filesystem_root_check(path: str, *, tenant_slug: str) -> str:
    """The resolved folder, if it lies under an allowed root (symlinks resolved); else 403."""
    if not os.path.isabs(path):
        raise StorageConfigInvalid("The root must be an absolute path.", extra={"root": ["not absolute"]})
    if ".." in PurePosixPath(path).parts:
        raise StoragePathForbidden("The root may not contain '..'.", extra={"root": path})
    resolved = Path(path).resolve()
    roots = allowed_roots(tenant_slug)
    media = Path(settings.DEEPLENS_MEDIA_ROOT).resolve()
    inside = any(resolved == root or root in resolved.parents for root in roots)
    if not inside or resolved == media or media in resolved.parents or resolved in media.parents:
        raise StoragePathForbidden(
            "This folder is outside the roots this installation allows for filesystem storage.",
            extra={"root": path, "allowed_roots": [str(root) for root in roots]},
        )
    return str(resolved)


def location_check(location: StorageLocation, *, create_missing: bool = True) -> dict:
    """Reach the location as configured: list it, and unless it is index-only write and delete a
    probe object. Raises StorageCheckFailed with a code naming the problem. With
    `create_missing=False` (a connection test, free of side effects) a filesystem folder that does
    not exist yet is not created: the answer says `folder_missing` if it could be."""
    from apps.storage.backends import build_storage

    started = time.monotonic()
    folder_missing = False
    if location.provider == StorageProvider.FILESYSTEM:
        folder_missing = _check_filesystem(location, create_missing=create_missing)
    else:
        storage = build_storage(location, checking=True)
        try:
            _check_remote(location, storage)
        except StorageCheckFailed:
            raise
        except Exception as exc:
            raise _classify(exc, location) from exc
    return {
        "ok": True,
        "writable": not location.index_only,
        "latency_ms": round((time.monotonic() - started) * 1000),
        **({"folder_missing": True} if folder_missing else {}),
    }


def _check_filesystem(location: StorageLocation, *, create_missing: bool = True) -> bool:
    """Whether the folder is missing (only when it may not be created here and could be)."""
    root = Path(location.config["root"])
    if location.index_only:
        if not root.is_dir():
            raise StorageCheckFailed(
                f"The folder {root} does not exist.", code="storage_path_not_found", extra={"root": str(root)}
            )
        if not os.access(root, os.R_OK | os.X_OK):
            raise StorageCheckFailed(
                f"DeepLens cannot read {root}.", code="storage_credentials_invalid", extra={"root": str(root)}
            )
        return False
    if not create_missing and not root.exists():
        parent = next(p for p in root.parents if p.exists())
        if not (parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)):
            raise StorageCheckFailed(
                f"The folder {root} does not exist, and DeepLens cannot create it in {parent}.",
                code="storage_not_writable",
                extra={"root": str(root)},
            )
        return True
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".deeplens-check-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise StorageCheckFailed(
            f"DeepLens cannot write to {root}: {exc.strerror or exc}.",
            code="storage_not_writable",
            extra={"root": str(root)},
        ) from exc
    return False


def _check_remote(location: StorageLocation, storage) -> None:
    if location.provider == StorageProvider.S3:
        storage.connection.meta.client.head_bucket(Bucket=storage.bucket_name)
    elif location.provider == StorageProvider.AZURE:
        storage.client.get_container_properties()
    elif location.provider == StorageProvider.GCS:
        storage.client.get_bucket(
            storage.bucket_name, timeout=settings.DEEPLENS_STORAGE_TIMEOUT_SECONDS, retry=None
        )
    if location.index_only:
        from apps.storage.backends import list_objects

        next(iter(list_objects(location, prefix="", storage=storage)), None)
        return
    probe = f".deeplens-check-{uuid.uuid4().hex}"
    storage.save(probe, ContentFile(b"ok"))
    storage.delete(probe)


def _classify(exc: Exception, location: StorageLocation) -> StorageCheckFailed:
    """Map an SDK exception to the problem people can fix."""
    name = type(exc).__name__
    status, code_text = None, ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code_text = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    else:
        status = getattr(exc, "status_code", None) or getattr(exc, "code", None)
        code_text = str(getattr(exc, "error_code", "") or "")
    container = location.config.get("bucket") or location.config.get("container") or ""
    if (
        code_text in ("NoSuchBucket", "ContainerNotFound", "404")
        or name in ("ResourceNotFoundError", "NotFound")
        or status == 404
    ):
        return StorageCheckFailed(
            f"The bucket or container {container!r} does not exist.",
            code="storage_bucket_not_found",
            extra={"bucket": container},
        )
    if (
        code_text
        in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "403",
            "AuthenticationFailed",
            "AuthorizationFailure",
            "InvalidClientTokenId",
        )
        or name
        in (
            "NoCredentialsError",
            "ClientAuthenticationError",
            "Forbidden",
            "Unauthorized",
            "DefaultCredentialsError",
            "RefreshError",
        )
        or status in (401, 403)
    ):
        return StorageCheckFailed(
            "The storage refused these credentials.",
            code="storage_credentials_invalid",
            extra={"provider": location.provider, "reason": code_text or name},
        )
    if name in (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ServiceRequestError",
        "ServiceRequestTimeoutError",
        "ServiceResponseError",
        "ServiceResponseTimeoutError",
        "ConnectionError",
        "TransportError",
        "ConnectionRefusedError",
    ):
        error = refused("endpoint_url")  # the answer of a refused endpoint: no port mapping
        return StorageCheckFailed(error.message, code=error.code, extra=error.extra)
    return StorageCheckFailed(
        f"The storage answered with an error: {code_text or name}.",
        code="storage_check_failed",
        extra={"reason": str(exc)[:300]},
    )
