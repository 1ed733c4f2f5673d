import re
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from apps.core.process_cache import cached

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


# The seeds' tenant tiers: what each grants until a global admin edits the tier or overrides a limit
# for one tenant. Seeded into the Tier table by a migration; the table is the truth at runtime.
TIER_DEFAULTS = {
    TenantTier.FREE: {
        "requests_per_minute": 100,
        "searches_per_minute": 50,
        "uploads_per_minute": 5,
        "max_storage_bytes": 1 * GIB,
        "max_users": 5,
        "max_api_calls_per_day": 1_000,
    },
    TenantTier.BASIC: {
        "requests_per_minute": 1_000,
        "searches_per_minute": 500,
        "uploads_per_minute": 50,
        "max_storage_bytes": 10 * GIB,
        "max_users": 20,
        "max_api_calls_per_day": 10_000,
    },
    TenantTier.PRO: {
        "requests_per_minute": 5_000,
        "searches_per_minute": 2_500,
        "uploads_per_minute": 200,
        "max_storage_bytes": 50 * GIB,
        "max_users": 50,
        "max_api_calls_per_day": 50_000,
    },
    TenantTier.ENTERPRISE: {
        "requests_per_minute": 50_000,
        "searches_per_minute": 25_000,
        "uploads_per_minute": 1_000,
        "max_storage_bytes": 500 * GIB,
        "max_users": 1_000,
        "max_api_calls_per_day": 1_000_000,
    },
}
LIMIT_FIELDS = tuple(TIER_DEFAULTS[TenantTier.FREE])


class Tier(models.Model):
    """A pricing tier's limits, editable by global admins; changes apply within seconds."""

    slug = models.CharField(max_length=20, choices=TenantTier.choices, unique=True)
    requests_per_minute = models.PositiveIntegerField()
    searches_per_minute = models.PositiveIntegerField()
    uploads_per_minute = models.PositiveIntegerField()
    max_storage_bytes = models.BigIntegerField(validators=[MinValueValidator(0)])
    max_users = models.PositiveIntegerField()
    max_api_calls_per_day = models.PositiveIntegerField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["max_storage_bytes"]

    def __str__(self) -> str:
        return self.get_slug_display()


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


def validate_time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            "%(value)r is not a known time zone.", code="invalid_time_zone", params={"value": value}
        ) from exc


def schema_name_for_slug(slug: str) -> str:
    return slug.replace("-", "_")


class Tenant(TenantMixin):
    """An organisation. Its data lives in its own PostgreSQL schema (`schema_name`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=63, unique=True, validators=[validate_tenant_slug])
    status = models.CharField(max_length=20, choices=TenantStatus.choices, default=TenantStatus.PENDING_SETUP)
    tier = models.CharField(max_length=20, choices=TenantTier.choices, default=TenantTier.FREE)
    # Per-tenant overrides of the tier's limits; null means "as the tier says".
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    searches_per_minute = models.PositiveIntegerField(null=True, blank=True)
    uploads_per_minute = models.PositiveIntegerField(null=True, blank=True)
    max_storage_bytes = models.BigIntegerField(null=True, blank=True, validators=[MinValueValidator(0)])
    max_users = models.PositiveIntegerField(null=True, blank=True)
    max_api_calls_per_day = models.PositiveIntegerField(null=True, blank=True)
    # The daily API call quota turns over at midnight here.
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # Admins and owners must sign in with a second factor (they enrol at their next sign-in).
    mfa_required_for_admins = models.BooleanField(default=False)
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

    @property
    def limits(self) -> "Limits":
        """The effective limits: overrides, else the tier's."""
        return tenant_limits(self)


class Domain(DomainMixin):
    """A host name that routes to a tenant (`<slug>.localhost` by default)."""

    def __str__(self) -> str:
        return self.domain


@dataclass(frozen=True)
class Limits:
    """A tenant's effective limits: its overrides, else its tier's."""

    requests_per_minute: int
    searches_per_minute: int
    uploads_per_minute: int
    max_storage_bytes: int
    max_users: int
    max_api_calls_per_day: int
    overridden: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, int]:
        return {field: getattr(self, field) for field in LIMIT_FIELDS}


def tier_get(slug: str) -> Tier:
    """The tier's row, read at most every few seconds per process (tiers change rarely)."""

    def load() -> Tier:
        tier = Tier.objects.filter(slug=slug).first()
        # A tier row missing (a database restored from before tiers) falls back to the seeds' values.
        return tier or Tier(slug=slug, **TIER_DEFAULTS[TenantTier(slug)])

    return cached(("tier", slug), settings.DEEPLENS_PROCESS_CACHE_SECONDS, load)


def tenant_limits(tenant: Tenant, *, tiers: dict[str, "Tier"] | None = None) -> Limits:
    """The tenant's effective limits; `tiers` (slug → row), when a caller lists many tenants, saves
    reading each tenant's tier."""
    tier = tiers[tenant.tier] if tiers and tenant.tier in tiers else tier_get(tenant.tier)
    overridden = frozenset(field for field in LIMIT_FIELDS if getattr(tenant, field) is not None)
    values = {
        field: getattr(tenant, field) if field in overridden else getattr(tier, field)
        for field in LIMIT_FIELDS
    }
    return Limits(**values, overridden=overridden)
