"""/api/v1/: the REST API. Tenant endpoints are served where the request was routed to a tenant
(by host or by credential); the public site serves sign-in and the global admin endpoints."""

from django.urls import path

from apps.accounts.api import api_keys, auth, impersonation, mfa, sso, users
from apps.audit import api as audit_api
from apps.duplicates.api import groups as duplicates_api
from apps.images.api import images, thumbnails, upload
from apps.jobs import api as jobs_api
from apps.search import api as search_api
from apps.storage import api as storage_api
from apps.tenants import api as tenants_api
from apps.usage import api as usage_api
from apps.webhooks import api as webhooks_api
from apps.workspace import api as workspace_api

auth_patterns = [
    path("auth/login", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/login/mfa", mfa.LoginMfaApi.as_view(), name="auth-login-mfa"),
    path("auth/login/mfa/setup", mfa.LoginMfaSetupApi.as_view(), name="auth-login-mfa-setup"),
    path("auth/sso/token", sso.SsoTokenApi.as_view(), name="auth-sso-token"),
    path("auth/register", tenants_api.RegisterApi.as_view(), name="auth-register"),
    path("auth/register/confirm", tenants_api.RegisterConfirmApi.as_view(), name="auth-register-confirm"),
    path("auth/refresh", auth.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", auth.MeApi.as_view(), name="auth-me"),
    path("auth/mfa", mfa.MfaStatusApi.as_view(), name="auth-mfa"),
    path("auth/mfa/setup", mfa.MfaSetupApi.as_view(), name="auth-mfa-setup"),
    path("auth/mfa/confirm", mfa.MfaConfirmApi.as_view(), name="auth-mfa-confirm"),
    path("auth/mfa/disable", mfa.MfaDisableApi.as_view(), name="auth-mfa-disable"),
    path("auth/mfa/recovery-codes", mfa.MfaRecoveryCodesApi.as_view(), name="auth-mfa-recovery-codes"),
    path("auth/sessions", auth.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<uuid:session_id>", auth.SessionRevokeApi.as_view(), name="auth-session-revoke"),
    path("auth/password/change", auth.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/reset", auth.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        auth.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
]

admin_patterns = [
    path("admin/tenants", tenants_api.AdminTenantListApi.as_view(), name="admin-tenants"),
    path("admin/tenants/<uuid:tenant_id>", tenants_api.AdminTenantDetailApi.as_view(), name="admin-tenant"),
    path("admin/impersonate", impersonation.ImpersonateApi.as_view(), name="admin-impersonate"),
    path("admin/impersonate/stop", impersonation.ImpersonateStopApi.as_view(), name="admin-impersonate-stop"),
    path("admin/tiers", tenants_api.AdminTierListApi.as_view(), name="admin-tiers"),
    path("admin/tiers/<slug:slug>", tenants_api.AdminTierDetailApi.as_view(), name="admin-tier"),
    path("stats/overview", usage_api.StatsOverviewApi.as_view(), name="stats-overview"),
    path("audit-events", audit_api.AuditEventListApi.as_view(), name="audit-events"),
    path("audit-events/export", audit_api.AuditEventExportApi.as_view(), name="audit-events-export"),
]

duplicates_patterns = [
    path("duplicates/groups", duplicates_api.GroupListApi.as_view(), name="duplicates-groups"),
    path(
        "duplicates/groups/<uuid:group_id>", duplicates_api.GroupDetailApi.as_view(), name="duplicates-group"
    ),
    path(
        "duplicates/groups/<uuid:group_id>/resolve",
        duplicates_api.GroupResolveApi.as_view(),
        name="duplicates-group-resolve",
    ),
    path(
        "duplicates/groups/<uuid:group_id>/dismiss",
        duplicates_api.GroupDismissApi.as_view(),
        name="duplicates-group-dismiss",
    ),
    path("duplicates/resolve-all", duplicates_api.ResolveAllApi.as_view(), name="duplicates-resolve-all"),
    path(
        "duplicates/remove-identical",
        duplicates_api.RemoveIdenticalApi.as_view(),
        name="duplicates-remove-identical",
    ),
    path(
        "duplicates/upload-policy", duplicates_api.UploadPolicyApi.as_view(), name="duplicates-upload-policy"
    ),
    path("duplicates/rescan", duplicates_api.RescanApi.as_view(), name="duplicates-rescan"),
    path("duplicates/jobs/<uuid:job_id>", duplicates_api.JobDetailApi.as_view(), name="duplicates-job"),
    path("duplicates/report", duplicates_api.ReportApi.as_view(), name="duplicates-report"),
    path(
        "duplicates/resolutions/<uuid:resolution_id>/undo",
        duplicates_api.ResolutionUndoApi.as_view(),
        name="duplicates-resolution-undo",
    ),
    path("duplicates/settings", duplicates_api.DuplicateSettingsApi.as_view(), name="duplicates-settings"),
    path("search/duplicates", duplicates_api.SearchDuplicatesApi.as_view(), name="search-duplicates"),
]

image_patterns = [
    path("images", images.ImageListApi.as_view(), name="images"),
    path("images/search", images.ImageListApi.as_view(), name="images-search"),
    path("images/upload", upload.ImageUploadApi.as_view(), name="images-upload"),
    path("images/batch", upload.ImageBatchUploadApi.as_view(), name="images-batch"),
    path("images/url", upload.ImageUrlUploadApi.as_view(), name="images-url"),
    path("images/bulk", images.ImageBulkApi.as_view(), name="images-bulk"),
    path("images/bulk-edit", images.ImageBulkEditApi.as_view(), name="images-bulk-edit"),
    path("images/failed", images.ImageFailedListApi.as_view(), name="images-failed"),
    path("images/deleted", images.ImageDeletedListApi.as_view(), name="images-deleted"),
    path("images/restore-batch", images.ImageRestoreBatchApi.as_view(), name="images-restore-batch"),
    path("images/trash/restore-all", images.TrashRestoreAllApi.as_view(), name="images-trash-restore-all"),
    path("images/trash/empty", images.TrashEmptyApi.as_view(), name="images-trash-empty"),
    path(
        "images/thumbnails/batch-regenerate",
        thumbnails.ThumbnailBatchRegenerateApi.as_view(),
        name="images-thumbnails-batch-regenerate",
    ),
    path("images/<uuid:image_id>", images.ImageDetailApi.as_view(), name="image"),
    path("images/<uuid:image_id>/status", images.ImageStatusApi.as_view(), name="image-status"),
    path("images/<uuid:image_id>/metadata", images.ImageMetadataApi.as_view(), name="image-metadata"),
    path("images/<uuid:image_id>/download", images.ImageDownloadApi.as_view(), name="image-download"),
    path("images/<uuid:image_id>/retry", images.ImageRetryApi.as_view(), name="image-retry"),
    path("images/<uuid:image_id>/restore", images.ImageRestoreApi.as_view(), name="image-restore"),
    path("images/<uuid:image_id>/thumbnail", thumbnails.ThumbnailApi.as_view(), name="image-thumbnail"),
    path("images/<uuid:image_id>/thumbnails", thumbnails.ThumbnailListApi.as_view(), name="image-thumbnails"),
    path(
        "images/<uuid:image_id>/thumbnails/generate",
        thumbnails.ThumbnailGenerateApi.as_view(),
        name="image-thumbnails-generate",
    ),
    path(
        "images/<uuid:image_id>/thumbnails/<slug:spec>",
        thumbnails.ThumbnailDeleteApi.as_view(),
        name="image-thumbnail-delete",
    ),
    path(
        "tenants/<uuid:tenant_id>/thumbnail-config",
        thumbnails.ThumbnailConfigApi.as_view(),
        name="thumbnail-config",
    ),
    path(
        "tenants/<uuid:tenant_id>/thumbnail-config/apply",
        thumbnails.ThumbnailConfigApplyApi.as_view(),
        name="thumbnail-config-apply",
    ),
    path("jobs", jobs_api.JobListApi.as_view(), name="jobs"),
    path("jobs/<uuid:job_id>", jobs_api.JobApi.as_view(), name="job"),
    path("jobs/<uuid:job_id>/cancel", jobs_api.JobCancelApi.as_view(), name="job-cancel"),
    path("jobs/<uuid:job_id>/retry", jobs_api.JobRetryApi.as_view(), name="job-retry"),
]

search_patterns = [
    path("search/similarity", search_api.SimilaritySearchApi.as_view(), name="search-similarity"),
    path("search/text", search_api.TextSearchApi.as_view(), name="search-text"),
    path("search/extract", search_api.ExtractApi.as_view(), name="search-extract"),
    path("images/<uuid:image_id>/vector", search_api.ImageVectorApi.as_view(), name="image-vector"),
    path("search/hash", search_api.HashSearchApi.as_view(), name="search-hash"),
    path("search/models", search_api.SearchModelListApi.as_view(), name="search-models"),
    path(
        "search/models/<slug:key>/activate",
        search_api.SearchModelActivateApi.as_view(),
        name="search-model-activate",
    ),
    path(
        "search/models/<slug:key>/deactivate",
        search_api.SearchModelDeactivateApi.as_view(),
        name="search-model-deactivate",
    ),
]

tenant_patterns = [
    path("settings/mfa-policy", mfa.MfaPolicyApi.as_view(), name="mfa-policy"),
    path("settings/sso-policy", sso.SsoPolicyApi.as_view(), name="sso-policy"),
    path("sso/providers", sso.SsoProviderListApi.as_view(), name="sso-providers"),
    path("sso/providers/<uuid:provider_id>", sso.SsoProviderDetailApi.as_view(), name="sso-provider"),
    path("webhooks", webhooks_api.WebhookListApi.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", webhooks_api.WebhookDetailApi.as_view(), name="webhook"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries",
        webhooks_api.WebhookDeliveryListApi.as_view(),
        name="webhook-deliveries",
    ),
    path("webhooks/<uuid:endpoint_id>/ping", webhooks_api.WebhookPingApi.as_view(), name="webhook-ping"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver",
        webhooks_api.WebhookRedeliverApi.as_view(),
        name="webhook-redeliver",
    ),
    path("exports", workspace_api.ExportStartApi.as_view(), name="exports"),
    path("exports/<uuid:job_id>/download", workspace_api.ExportDownloadApi.as_view(), name="export-download"),
    path(
        "exports/images.csv",
        workspace_api.StreamedExportApi.as_view(export_name="images.csv"),
        name="export-images-csv",
    ),
    path(
        "exports/images.jsonl",
        workspace_api.StreamedExportApi.as_view(export_name="images.jsonl"),
        name="export-images-jsonl",
    ),
    path(
        "exports/duplicates.csv",
        workspace_api.StreamedExportApi.as_view(export_name="duplicates.csv"),
        name="export-duplicates-csv",
    ),
    path("tenant/settings", workspace_api.WorkspaceSettingsApi.as_view(), name="tenant-settings"),
    path("users", users.UserListApi.as_view(), name="users"),
    path("users/<uuid:user_id>", users.UserDetailApi.as_view(), name="user"),
    path("api-keys", api_keys.ApiKeyListApi.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", api_keys.ApiKeyRevokeApi.as_view(), name="api-key"),
    path(
        "tenants/<uuid:tenant_id>/analytics", usage_api.TenantAnalyticsApi.as_view(), name="tenant-analytics"
    ),
]

_config = "tenants/<uuid:tenant_id>/storage-config"
storage_patterns = [
    path(_config, storage_api.StorageConfigCreateApi.as_view(), name="storage-config-create"),
    path(
        "tenants/<uuid:tenant_id>/storage-configs",
        storage_api.StorageConfigListApi.as_view(),
        name="storage-configs",
    ),
    path(f"{_config}/<uuid:config_id>", storage_api.StorageConfigDeleteApi.as_view(), name="storage-config"),
    path(
        f"{_config}/<uuid:config_id>/set-default",
        storage_api.StorageConfigSetDefaultApi.as_view(),
        name="storage-config-set-default",
    ),
    path(
        f"{_config}/<uuid:config_id>/test",
        storage_api.StorageConfigTestApi.as_view(),
        name="storage-config-test",
    ),
    path(
        f"{_config}/<uuid:config_id>/usage",
        storage_api.StorageConfigUsageApi.as_view(),
        name="storage-config-usage",
    ),
    path(
        f"{_config}/<uuid:config_id>/migrate",
        storage_api.StorageConfigMigrateApi.as_view(),
        name="storage-config-migrate",
    ),
    path(
        f"{_config}/<uuid:config_id>/jobs",
        storage_api.StorageConfigJobsApi.as_view(),
        name="storage-config-jobs",
    ),
    path(
        "tenants/<uuid:tenant_id>/storage-jobs/<uuid:job_id>",
        storage_api.StorageJobApi.as_view(),
        name="storage-job",
    ),
    path(
        "tenants/<uuid:tenant_id>/storage-jobs/<uuid:job_id>/cancel",
        storage_api.StorageJobCancelApi.as_view(),
        name="storage-job-cancel",
    ),
    path("storage/move", storage_api.StorageMoveApi.as_view(), name="storage-move"),
    path("index/scan", storage_api.IndexScanApi.as_view(), name="index-scan"),
    path("index/status/<uuid:job_id>", storage_api.IndexStatusApi.as_view(), name="index-status"),
]

public_api_patterns = auth_patterns + admin_patterns
# The busiest first (searches, then images): Django tries the patterns in order.
tenant_api_patterns = (
    search_patterns
    + image_patterns
    + duplicates_patterns
    + auth_patterns
    + admin_patterns
    + tenant_patterns
    + storage_patterns
)
