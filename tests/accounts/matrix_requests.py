"""For every API endpoint (method, URL name): the request the permission matrix makes, one that
succeeds for a caller that may make it. `{name}` in a path or body is an id or value of the world
(tests/accounts/matrix_world.py); `{session}` is the caller's own session."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    path: str
    body: Any = None
    # Multipart fields; a value "{jpeg}" becomes a small JPEG file.
    files: dict[str, str] = field(default_factory=dict)


T = "tenants/{tenant}"
S = f"{T}/storage-config/{{location}}"

REQUESTS: dict[tuple[str, str], Call] = {
    # Signing in and one's own account.
    ("POST", "auth-login"): Call(
        "auth/login", {"tenant": "alpha", "email": "matrix-viewer@alpha.test", "password": "{password}"}
    ),
    ("POST", "auth-login-mfa"): Call("auth/login/mfa", {"challenge": "not-a-challenge", "code": "123456"}),
    ("POST", "auth-login-mfa-setup"): Call("auth/login/mfa/setup", {"challenge": "not-a-challenge"}),
    ("GET", "auth-mfa"): Call("auth/mfa"),
    ("POST", "auth-mfa-setup"): Call("auth/mfa/setup"),
    ("POST", "auth-mfa-confirm"): Call("auth/mfa/confirm", {"code": ""}),
    ("POST", "auth-mfa-disable"): Call("auth/mfa/disable", {"code": ""}),
    ("POST", "auth-mfa-recovery-codes"): Call("auth/mfa/recovery-codes", {"code": ""}),
    ("GET", "mfa-policy"): Call("settings/mfa-policy"),
    ("PUT", "mfa-policy"): Call("settings/mfa-policy", {"mfa_required_for_admins": False}),
    ("POST", "auth-register"): Call(
        "auth/register",
        {"name": "New", "slug": "matrix-signup", "email": "new@new.test", "password": "a long passphrase 42"},
    ),
    ("POST", "auth-register-confirm"): Call("auth/register/confirm", {"token": "not-a-token"}),
    ("POST", "auth-sso-token"): Call("auth/sso/token", {"code": "not-a-code", "code_verifier": "v" * 43}),
    ("GET", "sso-providers"): Call("sso/providers"),
    ("POST", "sso-providers"): Call(
        "sso/providers",
        {"slug": "matrix-new", "name": "New ID", "issuer": "http://127.0.0.1:9", "client_id": "new"},
    ),
    ("GET", "sso-provider"): Call("sso/providers/{sso_provider}"),
    ("PATCH", "sso-provider"): Call("sso/providers/{sso_provider}", {"name": "Matrix IdP"}),
    ("DELETE", "sso-provider"): Call("sso/providers/{sso_provider}"),
    ("GET", "sso-policy"): Call("settings/sso-policy"),
    ("PUT", "sso-policy"): Call("settings/sso-policy", {"sso_required": False}),
    ("POST", "auth-refresh"): Call("auth/refresh", {"refresh": "{refresh}"}),
    ("POST", "auth-logout"): Call("auth/logout"),
    ("GET", "auth-me"): Call("auth/me"),
    ("GET", "auth-sessions"): Call("auth/sessions"),
    ("DELETE", "auth-session-revoke"): Call("auth/sessions/{session}"),
    ("POST", "auth-password-change"): Call(
        "auth/password/change", {"old_password": "{password}", "new_password": "a brand new passphrase 42"}
    ),
    ("POST", "auth-password-reset"): Call(
        "auth/password/reset", {"tenant": "alpha", "email": "matrix-target@alpha.test"}
    ),
    ("POST", "auth-password-reset-confirm"): Call(
        "auth/password/reset/confirm",
        {"uid": "{reset_uid}", "token": "{reset_token}", "new_password": "a brand new passphrase 42"},
    ),
    # The platform (global admins).
    ("GET", "admin-tenants"): Call("admin/tenants"),
    ("POST", "admin-tenants"): Call("admin/tenants", {"name": "Matrix", "slug": "matrix"}),
    ("GET", "admin-tenant"): Call("admin/tenants/{tenant}"),
    ("PATCH", "admin-tenant"): Call("admin/tenants/{tenant}", {"name": "Alpha"}),
    ("POST", "admin-impersonate"): Call(
        "admin/impersonate", {"user_id": "{member}", "reason": "support ticket 1"}
    ),
    ("POST", "admin-impersonate-stop"): Call("admin/impersonate/stop"),
    ("GET", "admin-tiers"): Call("admin/tiers"),
    ("GET", "admin-tier"): Call("admin/tiers/free"),
    ("PATCH", "admin-tier"): Call("admin/tiers/free", {"max_users": 5}),
    ("GET", "stats-overview"): Call("stats/overview"),
    # The tenant's audit trail.
    ("GET", "audit-events"): Call("audit-events"),
    ("GET", "audit-events-export"): Call("audit-events/export"),
    # People and keys.
    ("POST", "exports"): Call("exports"),
    ("GET", "export-download"): Call("exports/{export_job}/download"),
    ("GET", "export-images-csv"): Call("exports/images.csv"),
    ("GET", "export-images-jsonl"): Call("exports/images.jsonl"),
    ("GET", "export-duplicates-csv"): Call("exports/duplicates.csv"),
    ("GET", "webhooks"): Call("webhooks"),
    ("POST", "webhooks"): Call("webhooks", {"url": "https://93.184.216.34/new", "events": ["image.ready"]}),
    ("GET", "webhook"): Call("webhooks/{webhook}"),
    ("PATCH", "webhook"): Call("webhooks/{webhook}", {"description": "matrix"}),
    ("DELETE", "webhook"): Call("webhooks/{webhook}"),
    ("GET", "webhook-deliveries"): Call("webhooks/{webhook}/deliveries"),
    ("POST", "webhook-redeliver"): Call("webhooks/{webhook}/deliveries/{webhook_delivery}/redeliver"),
    ("POST", "webhook-ping"): Call("webhooks/{webhook}/ping"),
    ("GET", "tenant-settings"): Call("tenant/settings"),
    ("PATCH", "tenant-settings"): Call("tenant/settings", {"keep_gps": False}),
    ("GET", "users"): Call("users"),
    ("POST", "users"): Call("users", {"email": "matrix-new@alpha.test", "role": "viewer"}),
    ("GET", "user"): Call("users/{user}"),
    ("PATCH", "user"): Call("users/{user}", {"first_name": "Tess"}),
    ("DELETE", "user"): Call("users/{user}"),
    ("GET", "api-keys"): Call("api-keys"),
    ("POST", "api-keys"): Call("api-keys", {"name": "ci", "scopes": ["search"]}),
    ("DELETE", "api-key"): Call("api-keys/{api_key}"),
    ("GET", "tenant-analytics"): Call(f"{T}/analytics"),
    # Images.
    ("GET", "images"): Call("images"),
    ("GET", "images-search"): Call("images/search"),
    ("POST", "images-upload"): Call("images/upload", files={"file": "{jpeg}"}),
    ("POST", "images-batch"): Call("images/batch", files={"files": "{jpeg}"}),
    ("POST", "images-url"): Call("images/url", {"url": "{image_url}"}),
    ("POST", "images-bulk"): Call("images/bulk", {"ids": ["{image}"]}),
    ("GET", "images-failed"): Call("images/failed"),
    ("GET", "images-deleted"): Call("images/deleted"),
    ("POST", "images-restore-batch"): Call("images/restore-batch", {"ids": ["{deleted}"]}),
    ("POST", "images-trash-restore-all"): Call("images/trash/restore-all"),
    ("POST", "images-trash-empty"): Call("images/trash/empty", {"dry_run": False}),
    ("POST", "images-thumbnails-batch-regenerate"): Call(
        "images/thumbnails/batch-regenerate", {"ids": ["{image}"]}
    ),
    ("GET", "image"): Call("images/{image}"),
    ("DELETE", "image"): Call("images/{image}"),
    ("PATCH", "image"): Call("images/{image}", {"tags": ["edited"], "description": "A matrix photo"}),
    ("POST", "images-bulk-edit"): Call(
        "images/bulk-edit", {"ids": ["{image}"], "action": "tag", "tags": ["x"]}
    ),
    ("GET", "image-status"): Call("images/{image}/status"),
    ("GET", "image-metadata"): Call("images/{image}/metadata"),
    ("GET", "image-download"): Call("images/{image}/download"),
    ("POST", "image-retry"): Call("images/{failed}/retry"),
    ("POST", "image-restore"): Call("images/{deleted}/restore"),
    ("GET", "image-thumbnail"): Call("images/{image}/thumbnail?spec=small"),
    ("GET", "image-thumbnails"): Call("images/{image}/thumbnails"),
    ("POST", "image-thumbnails-generate"): Call("images/{image}/thumbnails/generate", {"specs": ["small"]}),
    ("DELETE", "image-thumbnail-delete"): Call("images/{image}/thumbnails/small"),
    ("GET", "thumbnail-config"): Call(f"{T}/thumbnail-config"),
    ("PUT", "thumbnail-config"): Call(
        f"{T}/thumbnail-config",
        {"specs": [{"name": "small", "max_width": 150, "max_height": 150, "format": "webp", "quality": 80}]},
    ),
    ("POST", "thumbnail-config-apply"): Call(f"{T}/thumbnail-config/apply"),
    ("GET", "jobs"): Call("jobs"),
    ("GET", "job"): Call("jobs/{thumbnail_job}"),
    ("POST", "job-cancel"): Call("jobs/{thumbnail_job}/cancel"),
    ("POST", "job-retry"): Call("jobs/{failed_job}/retry"),
    # Storage.
    ("POST", "storage-config-create"): Call(
        f"{T}/storage-config", {"name": "new disk", "provider": "filesystem", "config": {"root": "{fs_root}"}}
    ),
    ("GET", "storage-configs"): Call(f"{T}/storage-configs"),
    ("PATCH", "storage-config"): Call(f"{T}/storage-config/{{target_location}}", {"name": "Renamed"}),
    ("DELETE", "storage-config"): Call(f"{T}/storage-config/{{target_location}}"),
    ("PUT", "storage-config-set-default"): Call(f"{S}/set-default"),
    ("POST", "storage-config-test"): Call(f"{S}/test"),
    ("GET", "storage-config-usage"): Call(f"{S}/usage"),
    ("POST", "storage-config-migrate"): Call(
        f"{T}/storage-config/{{target_location}}/migrate", {"target_config_id": "{location}"}
    ),
    ("GET", "storage-config-jobs"): Call(f"{S}/jobs"),
    ("POST", "storage-move"): Call("storage/move", {"ids": ["{image}"], "target_id": "{target_location}"}),
    ("GET", "storage-job"): Call(f"{T}/storage-jobs/{{storage_job}}"),
    ("POST", "storage-job-cancel"): Call(f"{T}/storage-jobs/{{storage_job}}/cancel"),
    ("POST", "index-scan"): Call("index/scan", {"storage_config_id": "{scan_location}"}),
    ("GET", "index-status"): Call("index/status/{scan_job}"),
    # Search.
    ("POST", "search-similarity"): Call("search/similarity", {"image_id": "{image}"}),
    ("POST", "search-extract"): Call("search/extract", files={"image": "{jpeg}"}),
    ("GET", "image-vector"): Call("images/{image}/vector"),
    ("GET", "search-text"): Call("search/text?q=a+photo"),
    ("GET", "search-hash"): Call("search/hash?image_id={image}"),
    ("GET", "search-models"): Call("search/models"),
    ("POST", "search-model-activate"): Call("search/models/descriptor/activate"),
    ("POST", "search-model-deactivate"): Call("search/models/descriptor/deactivate"),
    # Duplicates.
    ("GET", "duplicates-groups"): Call("duplicates/groups"),
    ("GET", "duplicates-group"): Call("duplicates/groups/{group}"),
    ("POST", "duplicates-group-resolve"): Call("duplicates/groups/{group}/resolve", {"keep": ["{image}"]}),
    ("POST", "duplicates-group-dismiss"): Call("duplicates/groups/{group}/dismiss"),
    ("POST", "duplicates-resolve-all"): Call("duplicates/resolve-all", {"dry_run": True}),
    ("POST", "duplicates-rescan"): Call("duplicates/rescan"),
    ("GET", "duplicates-upload-policy"): Call("duplicates/upload-policy"),
    ("PATCH", "duplicates-upload-policy"): Call("duplicates/upload-policy", {"identical_uploads": "keep"}),
    ("POST", "duplicates-remove-identical"): Call("duplicates/remove-identical", {"dry_run": True}),
    ("GET", "duplicates-job"): Call("duplicates/jobs/{duplicates_job}"),
    ("GET", "duplicates-report"): Call("duplicates/report"),
    ("POST", "duplicates-resolution-undo"): Call("duplicates/resolutions/{resolution}/undo"),
    ("GET", "duplicates-settings"): Call("duplicates/settings"),
    ("PATCH", "duplicates-settings"): Call("duplicates/settings", {"format_priority": ["jpeg"]}),
    ("POST", "search-duplicates"): Call("search/duplicates", files={"file": "{jpeg}"}),
}
