"""The tenant's duplicate policy: the keeper criteria order and the format preference."""

from django.db import transaction

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.duplicates.errors import InvalidPolicy
from apps.duplicates.keeper import CRITERIA
from apps.duplicates.models import DuplicateSettings
from apps.duplicates.services.groups import duplicate_settings_get
from apps.images.models import ImageFormat


def _ordering(values: list[str], *, known: list[str], field: str) -> list[str]:
    """The given order, then the known values it leaves out in their default order."""
    unknown = sorted({v for v in values if v not in known})
    if unknown:
        raise InvalidPolicy(
            f"Unknown {field}: {', '.join(unknown)}.", extra={"field": field, "allowed": known}
        )
    if len(set(values)) != len(values):
        raise InvalidPolicy(f"Each {field} may appear once.", extra={"field": field})
    return [*values, *(v for v in known if v not in values)]


def duplicate_settings_validate(
    *, keeper_criteria: list[str] | None = None, format_priority: list[str] | None = None
) -> dict[str, list[str]]:
    """Per-field messages for orders that cannot be stored (empty when both are fine)."""
    errors: dict[str, list[str]] = {}
    checks = (
        ("keeper_criteria", keeper_criteria, CRITERIA, "keeper criterion"),
        ("format_priority", format_priority, list(ImageFormat.values), "format"),
    )
    for name, values, known, label in checks:
        if values is None:
            continue
        try:
            _ordering(values, known=known, field=label)
        except InvalidPolicy as exc:
            errors[name] = [exc.message]
    return errors


def _plain(value):
    return list(value) if isinstance(value, list | tuple) else value


@transaction.atomic
def duplicate_settings_update(
    *,
    actor: Actor,
    tenant,
    keeper_criteria: list[str] | None = None,
    format_priority: list[str] | None = None,
    similar_enabled: bool | None = None,
) -> DuplicateSettings:
    """Change the order of the keeper criteria, the format preference and/or whether visually
    similar images are grouped (audited). Bad input changes nothing. The new order applies to each
    group the next time it is refreshed."""
    policy = duplicate_settings_get()
    policy = DuplicateSettings.objects.select_for_update().get(pk=policy.pk)
    before = {
        "keeper_criteria": list(policy.keeper_criteria),
        "format_priority": list(policy.format_priority),
        "similar_enabled": policy.similar_enabled,
    }
    changed = []
    if keeper_criteria is not None:
        policy.keeper_criteria = _ordering(keeper_criteria, known=CRITERIA, field="keeper criterion")
        changed.append("keeper_criteria")
    if format_priority is not None:
        policy.format_priority = _ordering(format_priority, known=list(ImageFormat.values), field="format")
        changed.append("format_priority")
    if similar_enabled is not None and similar_enabled != policy.similar_enabled:
        policy.similar_enabled = similar_enabled
        changed.append("similar_enabled")
    if not changed:
        return policy
    policy.full_clean()
    policy.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.DUPLICATES_SETTINGS_CHANGED,
        tenant=tenant,
        target=policy,
        details={
            "before": {k: before[k] for k in changed},
            "after": {k: _plain(getattr(policy, k)) for k in changed},
        },
    )
    return policy
