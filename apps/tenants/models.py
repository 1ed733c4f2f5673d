import re
import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# A slug is the tenant's host label (<slug>.<base domain>) and, with '-' as '_', its schema name.
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")
SLUG_MAX_LENGTH = 40
RESERVED_SLUGS = frozenset(
    {"public", "extensions", "information_schema", "admin", "api", "www", "static", "media", "metrics"}
)

GIB = 1024**3


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    PENDING_SETUP = "pending_setup", "Pending setup"
    DELETED = "deleted", "Deleted"


class TenantTier(models.TextChoices):
    FREE = "free", "Free"
    BASIC = "basic", "Basic"
    PRO = "pro", "Professional"
    ENTERPRISE = "enterprise", "Enterprise"


# Limits a tier grants until a global admin overrides them (the seeds' tenant tiers).
TIER_LIMITS = {
    TenantTier.FREE: {"max_storage_bytes": 1 * GIB, "max_users": 5, "max_api_calls_per_day": 1_000},
    TenantTier.BASIC: {"max_storage_bytes": 10 * GIB, "max_users": 20, "max_api_calls_per_day": 10_000},
    TenantTier.PRO: {"max_storage_bytes": 50 * GIB, "max_users": 50, "max_api_calls_per_day": 50_000},
    TenantTier.ENTERPRISE: {
        "max_storage_bytes": 500 * GIB,
        "max_users": 1_000,
        "max_api_calls_per_day": 1_000_000,
    },
}


def validate_tenant_slug(value: str) -> None:
    if len(value) > SLUG_MAX_LENGTH or not SLUG_PATTERN.match(value):
        raise ValidationError(
            "A tenant slug is 1-%(max)s lowercase letters, digits and single hyphens, "
            "starting with a letter (got %(value)r).",
            code="invalid_slug",
            params={"max": SLUG_MAX_LENGTH, "value": value},
        )
    if value in RESERVED_SLUGS or value.startswith("pg-"):
        raise ValidationError("%(value)r is reserved.", code="reserved_slug", params={"value": value})


def schema_name_for_slug(slug: str) -> str:
    return slug.replace("-", "_")


class Tenant(TenantMixin):
    """An organisation. Its data lives in its own PostgreSQL schema (`schema_name`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=63, unique=True, validators=[validate_tenant_slug])
    status = models.CharField(max_length=20, choices=TenantStatus.choices, default=TenantStatus.PENDING_SETUP)
    tier = models.CharField(max_length=20, choices=TenantTier.choices, default=TenantTier.FREE)
    max_storage_bytes = models.BigIntegerField(default=TIER_LIMITS[TenantTier.FREE]["max_storage_bytes"])
    max_users = models.PositiveIntegerField(default=TIER_LIMITS[TenantTier.FREE]["max_users"])
    max_api_calls_per_day = models.PositiveIntegerField(
        default=TIER_LIMITS[TenantTier.FREE]["max_api_calls_per_day"]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The provisioning service creates and migrates the schema itself, and never drops one.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE


class Domain(DomainMixin):
    """A host name that routes to a tenant (`<slug>.localhost` by default)."""

    def __str__(self) -> str:
        return self.domain
