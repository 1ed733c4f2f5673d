"""Creating and changing tenants. The only module that switches schemas for tenant work."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core import process_cache
from apps.core.errors import InvalidInput
from apps.tenants.errors import TenantExists, TenantNotFound, TenantSlugInvalid
from apps.tenants.models import (
    LIMIT_FIELDS,
    Domain,
    Tenant,
    TenantStatus,
    TenantTier,
    Tier,
    schema_name_for_slug,
    validate_tenant_slug,
    validate_time_zone,
)
from apps.tenants.setup import tenant_setup_steps

logger = logging.getLogger(__name__)


def tenant_domain_for_slug(slug: str) -> str:
    return f"{slug}.{settings.DEEPLENS_BASE_DOMAIN}"


@transaction.atomic
def tenant_ensure_public() -> Tenant:
    """The row django-tenants routes the public site with (admin, auth API) at the base domain."""
    public, _ = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"name": "DeepLens", "slug": get_public_schema_name(), "status": TenantStatus.ACTIVE},
    )
    Domain.objects.get_or_create(
        domain=settings.DEEPLENS_BASE_DOMAIN, defaults={"tenant": public, "is_primary": True}
    )
    return public


def tenant_provision(
    *, name: str, slug: str, tier: str = TenantTier.FREE, domain: str = "", actor: Actor | None = None
) -> Tenant:
    """Create a tenant: its row and domain, its schema with every tenant migration, its default
    storage location and thumbnail specs. It stays `pending_setup` until all of that is done, so a
    run that dies half-way is finished by calling this again with the same slug. Tenants are rows of
    the public schema: it works there whatever schema the caller is in (a global admin may call it
    through a tenant's host).
    """
    with schema_context(get_public_schema_name()):
        return _tenant_provision(name=name, slug=slug, tier=tier, domain=domain, actor=actor)


def _tenant_provision(*, name: str, slug: str, tier: str, domain: str, actor: Actor | None) -> Tenant:
    try:
        validate_tenant_slug(slug)
    except ValidationError as exc:
        raise TenantSlugInvalid(exc.messages[0], extra={"slug": slug}) from exc
    if tier not in TenantTier.values:
        raise TenantSlugInvalid(f"Unknown tier {tier!r}.", code="tenant_tier_invalid", extra={"tier": tier})
    if not name.strip():
        raise TenantSlugInvalid("A tenant needs a name.", code="tenant_name_required")

    tenant = _tenant_create_row(name=name.strip(), slug=slug, tier=tier, domain=domain)
    tenant.create_schema(check_if_exists=True, verbosity=0)
    with tenant_context(tenant):
        for step in tenant_setup_steps():  # registered by the apps that own the rows (apps/tenants/setup.py)
            step.run()
    with transaction.atomic():
        tenant.status = TenantStatus.ACTIVE
        tenant.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=actor or Actor.system(),
            action=AuditAction.TENANT_CREATED,
            tenant=tenant,
            target=tenant,
            details={"slug": tenant.slug, "tier": tenant.tier},
        )
    logger.info("Provisioned tenant %s (schema %s)", tenant.slug, tenant.schema_name)
    return tenant


@transaction.atomic
def _tenant_create_row(*, name: str, slug: str, tier: str, domain: str) -> Tenant:
    existing = Tenant.objects.select_for_update().filter(slug=slug).first()
    if existing is not None:
        if existing.status != TenantStatus.PENDING_SETUP:
            raise TenantExists(f"A tenant with the slug {slug!r} already exists.", extra={"slug": slug})
        return existing
    schema_name = schema_name_for_slug(slug)
    if Tenant.objects.filter(schema_name=schema_name).exists():
        raise TenantExists(f"The schema {schema_name!r} is taken by another tenant.", extra={"slug": slug})
    tenant = Tenant(
        name=name,
        slug=slug,
        schema_name=schema_name,
        tier=tier,
        status=TenantStatus.PENDING_SETUP,
    )
    tenant.full_clean()
    tenant.save()
    domain_row = Domain(domain=domain or tenant_domain_for_slug(slug), tenant=tenant, is_primary=True)
    domain_row.full_clean()
    domain_row.save()
    return tenant


STATUS_ACTIONS: dict[str, AuditAction] = {
    TenantStatus.SUSPENDED: AuditAction.TENANT_SUSPENDED,
    TenantStatus.ACTIVE: AuditAction.TENANT_ACTIVATED,
}


@transaction.atomic
def tenant_update(
    *,
    tenant: Tenant,
    actor: Actor,
    name: str | None = None,
    status: str | None = None,
    tier: str | None = None,
    limits: dict[str, int | None] | None = None,
    time_zone: str | None = None,
) -> Tenant:
    """Change a tenant's name, status, tier, time zone or limit overrides. A limit given as None
    clears its override, so the tier's value applies again; overrides survive a change of tier."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    changed: dict[str, tuple] = {}
    if status is not None and status != tenant.status:
        if status not in TenantStatus.values or status == TenantStatus.PENDING_SETUP:
            raise InvalidInput(f"A tenant cannot be set to {status!r}.", code="tenant_status_invalid")
        changed["status"] = (tenant.status, status)
        tenant.status = status
        audit_record(
            actor=actor,
            action=STATUS_ACTIONS.get(status, AuditAction.TENANT_UPDATED),
            tenant=tenant,
            target=tenant,
            details={"status": list(changed["status"])},
        )
    if name is not None and name.strip() and name.strip() != tenant.name:
        changed["name"] = (tenant.name, name.strip())
        tenant.name = name.strip()
    if time_zone is not None and time_zone != tenant.time_zone:
        validate_time_zone_input(time_zone)
        changed["time_zone"] = (tenant.time_zone, time_zone)
        tenant.time_zone = time_zone
    if tier is not None and tier != tenant.tier:
        if tier not in TenantTier.values:
            raise InvalidInput(f"Unknown tier {tier!r}.", code="tenant_tier_invalid")
        changed["tier"] = (tenant.tier, tier)
        tenant.tier = tier
    new_limits = {}
    for field, value in (limits or {}).items():
        if field not in LIMIT_FIELDS:
            raise InvalidInput(
                f"Unknown limit {field!r}; the limits are {', '.join(LIMIT_FIELDS)}.",
                code="limit_invalid",
                extra={"limits": {field: ["Unknown limit."]}},
            )
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise InvalidInput(
                f"{field} must be a whole number of at least 0, or null to use the tier's.",
                code="limit_invalid",
                extra={"limits": {field: ["Must be a whole number of at least 0, or null."]}},
            )
        new_limits[field] = value
    limit_changes = {f: (getattr(tenant, f), v) for f, v in new_limits.items() if getattr(tenant, f) != v}
    for field, (_old, value) in limit_changes.items():
        setattr(tenant, field, value)
    if limit_changes:
        audit_record(
            actor=actor,
            action=AuditAction.TENANT_LIMITS_CHANGED,
            tenant=tenant,
            target=tenant,
            details={f: list(change) for f, change in limit_changes.items()},
        )
    if {"name", "tier", "time_zone"} & changed.keys():
        audit_record(
            actor=actor,
            action=AuditAction.TENANT_UPDATED,
            tenant=tenant,
            target=tenant,
            details={f: list(changed[f]) for f in ("name", "tier", "time_zone") if f in changed},
        )
    fields = [*changed, *limit_changes]
    if fields:
        tenant.full_clean()
        tenant.save(update_fields=[*fields, "updated_at"])
        transaction.on_commit(tenant_routing_forget)
    return tenant


def validate_time_zone_input(value: str) -> None:
    try:
        validate_time_zone(value)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], code="time_zone_invalid", extra={"time_zone": value}) from exc


def tenant_routing_forget() -> None:
    """Forget this process's cached tenants and tiers, so that a change applies here at once (other
    processes see it within DEEPLENS_PROCESS_CACHE_SECONDS)."""
    process_cache.clear()


@contextmanager
def in_tenant(tenant: Tenant) -> Iterator[Tenant]:
    """Run a block in this tenant's schema, then go back to the schema before. The one way for code
    outside apps/tenants to read another tenant's data (a global admin's overview, a beat task that
    visits every tenant); a request or a task otherwise gets its tenant from where it runs."""
    with tenant_context(tenant):
        yield tenant


def tenants_fan_out(task, **kwargs) -> int:
    """Enqueue a tenant task once in every active tenant's context; returns how many."""
    count = 0
    for tenant in Tenant.objects.filter(status=TenantStatus.ACTIVE).exclude(
        schema_name=get_public_schema_name()
    ):
        with tenant_context(tenant):
            task.delay(**kwargs)
        count += 1
    return count


@contextmanager
def tenant_scope(*, slug: str) -> Iterator[Tenant]:
    """Run a block in an active tenant's schema (operator commands)."""
    tenant = Tenant.objects.filter(slug=slug, status=TenantStatus.ACTIVE).first()
    if tenant is None:
        raise TenantNotFound(f"No active tenant {slug!r}.", extra={"slug": slug})
    with tenant_context(tenant):
        yield tenant


@transaction.atomic
def tier_update(*, tier: Tier, actor: Actor, limits: dict[str, int]) -> Tier:
    """Change a tier's limits; every tenant on it without an override follows within seconds."""
    tier = Tier.objects.select_for_update().get(pk=tier.pk)
    changes = {
        f: (getattr(tier, f), v) for f, v in limits.items() if f in LIMIT_FIELDS and getattr(tier, f) != v
    }
    if not changes:
        return tier
    for field, (_old, value) in changes.items():
        setattr(tier, field, value)
    tier.full_clean()
    tier.save(update_fields=[*changes, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.TIER_CHANGED,
        tenant=None,
        target=tier,
        details={"tier": tier.slug, **{f: list(change) for f, change in changes.items()}},
    )
    transaction.on_commit(tenant_routing_forget)
    return tier
