import uuid
from typing import ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Tenant admin"
    OWNER = "owner", "Tenant owner"
    GLOBAL_ADMIN = "global_admin", "Global admin"


TENANT_ROLES = (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.full_clean()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(tenant=None, role=Role.GLOBAL_ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Tenant users belong to exactly one tenant; global admins to none.

    The same email may exist once per tenant and once among global admins, so the username field is
    not unique on its own: `apps.accounts.backends.TenantEmailBackend` looks users up by tenant.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    email_confirmed = models.BooleanField(default=False)
    # The person's own API requests per minute, where stricter than the workspace's; empty: no own limit.
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            # Unique among live users of a tenant (or among global admins); a deleted user's address
            # is free again.
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=Q(deleted_at__isnull=True),
                nulls_distinct=False,
                name="user_email_unique_per_tenant",
            ),
            models.CheckConstraint(
                condition=(
                    Q(role=Role.GLOBAL_ADMIN, tenant__isnull=True)
                    | Q(~Q(role=Role.GLOBAL_ADMIN), tenant__isnull=False)
                ),
                name="user_global_admin_has_no_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_global_admin(self) -> bool:
        return self.role == Role.GLOBAL_ADMIN and self.is_superuser

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email


class RefreshToken(models.Model):
    """One refresh token of an API session. Rotation replaces it with a new row of the same family;
    presenting a rotated (or revoked) token again revokes the whole family."""

    class RevokedReason(models.TextChoices):
        ROTATED = "rotated", "Rotated"
        LOGOUT = "logout", "Signed out"
        REVOKED_BY_USER = "revoked_by_user", "Revoked by the user"
        REUSE_DETECTED = "reuse_detected", "Reuse of a rotated token"
        USER_DEACTIVATED = "user_deactivated", "User deactivated"
        PASSWORD_CHANGED = "password_changed", "Password changed"

    id = models.UUIDField(primary_key=True, editable=False)  # the token's jti
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="refresh_tokens")
    family = models.UUIDField(db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, choices=RevokedReason.choices, blank=True)
    replaced_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.user} session {self.family}"


class ApiKeyScope(models.TextChoices):
    SEARCH = "search", "Search and view images (deeplens.search)"
    UPLOAD = "upload", "Upload images (deeplens.upload)"
    STORAGE = "storage", "Manage storage (deeplens.storage)"
    METRICS = "metrics", "Read metrics and usage (deeplens.metrics)"
    ADMIN = "admin", "Administer the tenant (deeplens.admin)"


class ApiKey(models.Model):
    """A tenant's key for integrations. Only a SHA-256 of the key is stored; the prefix is shown."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    # The key's own requests per minute, where stricter than the workspace's; empty: no own limit.
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"


class ImpersonationSession(models.Model):
    """A global admin acting as a tenant user, through the API (a short-lived token) or the browser."""

    class Channel(models.TextChoices):
        API = "api", "API"
        BROWSER = "browser", "Browser"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    impersonator = models.ForeignKey(User, on_delete=models.PROTECT, related_name="impersonations_made")
    target = models.ForeignKey(User, on_delete=models.PROTECT, related_name="impersonations_received")
    reason = models.CharField(max_length=500)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    started_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    handoff_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.impersonator} as {self.target}"


class TotpDevice(models.Model):
    """A person's authenticator app (RFC 6238 TOTP). The seed is encrypted at rest (apps/core/crypto);
    until the first code confirms it the device does not count."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret_encrypted = models.TextField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The time step of the last accepted code: a code is good once (RFC 6238 section 5.2).
    last_used_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"TOTP of {self.user}"


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator is lost. Only an HMAC-SHA256 of it is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "code_hash"])]

    def __str__(self) -> str:
        return f"recovery code of {self.user}"


class SsoProvider(models.Model):
    """A workspace's OpenID Connect identity provider (Azure AD / Entra ID, Google, Okta, Keycloak, ...).

    The issuer is discovered (`/.well-known/openid-configuration`); the client secret is encrypted at
    rest (apps/core/crypto). People whose e-mail domain is allowed are provisioned at their first
    sign-in with the role `role_mapping` gives the values of `role_claim` (e.g. `groups`), else
    `default_role`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="sso_providers")
    slug = models.SlugField(max_length=40)
    name = models.CharField(max_length=100, help_text="shown on the sign-in button")
    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=255)
    client_secret_encrypted = models.TextField(blank=True)
    scopes = models.CharField(max_length=200, default="openid email profile")
    allowed_domains = models.JSONField(default=list, blank=True)
    default_role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    role_claim = models.CharField(max_length=100, blank=True)
    role_mapping = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "slug"], name="sso_provider_slug_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.issuer})"


class SsoIdentity(models.Model):
    """Who a provider's subject (`sub`) is here: the link made at the first sign-in."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.ForeignKey(SsoProvider, on_delete=models.CASCADE, related_name="identities")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sso_identities")
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="sso_identity_subject_per_provider")
        ]

    def __str__(self) -> str:
        return f"{self.user} via {self.provider}"


class SsoPolicy(models.Model):
    """Whether a workspace signs in only through its providers. The break-glass owner keeps a password
    (and their second factor) for when the provider is down or misconfigured."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="sso_policy")
    sso_required = models.BooleanField(default=False)
    break_glass_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"SSO policy of {self.tenant_id}"
