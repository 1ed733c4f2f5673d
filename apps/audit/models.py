from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    LOGIN_SUCCEEDED = "auth.login_succeeded", "Signed in"
    LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    LOGOUT = "auth.logout", "Signed out"
    REFRESH_REUSED = "auth.refresh_token_reused", "Refresh token reused"
    SESSION_REVOKED = "auth.session_revoked", "Session revoked"
    PASSWORD_CHANGED = "auth.password_changed", "Password changed"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", "Password reset requested"
    PASSWORD_RESET = "auth.password_reset", "Password reset"
    MFA_ENROLLED = "auth.mfa_enrolled", "Two-factor authentication enrolled"
    MFA_DISABLED = "auth.mfa_disabled", "Two-factor authentication turned off"
    MFA_RESET = "auth.mfa_reset", "Two-factor authentication reset by an administrator"
    MFA_RECOVERY_CODES_REGENERATED = "auth.mfa_recovery_codes_regenerated", "Recovery codes regenerated"
    MFA_FAILED = "auth.mfa_failed", "Second-factor code refused"
    MFA_POLICY_CHANGED = "tenant.mfa_policy_changed", "Two-factor policy changed"
    SSO_PROVIDER_CREATED = "sso.provider_created", "SSO provider added"
    SSO_PROVIDER_UPDATED = "sso.provider_updated", "SSO provider changed"
    SSO_PROVIDER_DELETED = "sso.provider_deleted", "SSO provider removed"
    SSO_POLICY_CHANGED = "sso.policy_changed", "SSO policy changed"
    SSO_USER_PROVISIONED = "sso.user_provisioned", "User provisioned by SSO"
    SSO_LOGIN_REFUSED = "sso.login_refused", "SSO sign-in refused"
    SIGNUP_REQUESTED = "signup.requested", "Sign-up requested"
    SIGNUP_COMPLETED = "signup.completed", "Workspace created by sign-up"
    USER_CREATED = "user.created", "User created"
    USER_UPDATED = "user.updated", "User updated"
    USER_ROLE_CHANGED = "user.role_changed", "Role changed"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    USER_REACTIVATED = "user.reactivated", "User reactivated"
    USER_DELETED = "user.deleted", "User deleted"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    IMPERSONATION_STARTED = "impersonation.started", "Impersonation started"
    IMPERSONATION_STOPPED = "impersonation.stopped", "Impersonation stopped"
    TENANT_CREATED = "tenant.created", "Tenant created"
    TENANT_UPDATED = "tenant.updated", "Tenant updated"
    TENANT_SUSPENDED = "tenant.suspended", "Tenant suspended"
    TENANT_ACTIVATED = "tenant.activated", "Tenant activated"
    TENANT_LIMITS_CHANGED = "tenant.limits_changed", "Tenant limits changed"
    TIER_CHANGED = "tier.changed", "Tier limits changed"
    STORAGE_CHANGED = "storage.changed", "Storage settings changed"
    THUMBNAILS_CHANGED = "thumbnails.config_changed", "Thumbnail sizes changed"
    IMAGE_SETTINGS_CHANGED = "images.settings_changed", "Image settings changed"
    IMAGE_UPDATED = "image.updated", "Image edited"
    WEBHOOK_CHANGED = "webhooks.changed", "Webhook endpoint changed"
    EXPORT_STARTED = "export.started", "Export started"
    EXPORT_DOWNLOADED = "export.downloaded", "Export downloaded"
    WEBHOOK_DISABLED = "webhooks.disabled", "Webhook endpoint switched off after failures"
    IMAGE_DELETED = "image.deleted", "Image deleted"
    IMAGE_RESTORED = "image.restored", "Image restored"
    IMAGE_PURGED = "image.purged", "Image purged"
    DUPLICATES_RESOLVED = "duplicates.resolved", "Duplicates resolved"
    DUPLICATES_RESOLUTION_UNDONE = "duplicates.resolution_undone", "Duplicate resolution undone"
    TRASH_EMPTIED = "images.trash_emptied", "Trash emptied"
    DUPLICATES_METADATA_MERGED = "duplicates.metadata_merged", "Metadata merged into the keeper"
    DUPLICATES_SETTINGS_CHANGED = "duplicates.settings_changed", "Duplicate settings changed"
    SEARCH_MODEL_ACTIVATED = "search.model_activated", "Search model activated"
    SEARCH_MODEL_DEACTIVATED = "search.model_deactivated", "Search model deactivated"
    JOB_CANCELLED = "job.cancelled", "Job cancelled"
    JOB_RETRIED = "job.retried", "Job retried"


class AuditEvent(models.Model):
    """Append-only: a database trigger refuses UPDATE and DELETE on this table."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    actor_api_key = models.CharField(max_length=16, blank=True, help_text="prefix of the API key used")
    impersonator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    impersonator_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_email or 'system'}"
