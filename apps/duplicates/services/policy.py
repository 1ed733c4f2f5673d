"""The tenant's duplicate policy: the keeper criteria order, the format preference and what RAW + JPEG
pairs of one shot are (grouped, or both kept)."""

from django.db import transaction

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.duplicates.errors import InvalidPolicy
from apps.duplicates.keeper import CRITERIA
from apps.duplicates.models import DuplicateSettings, Group, GroupStatus, Member, Pair, RawJpegPairs
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


@transaction.atomic
def duplicate_settings_update(
    *,
    actor: Actor,
    tenant,
    keeper_criteria: list[str] | None = None,
    format_priority: list[str] | None = None,
    raw_jpeg_pairs: str | None = None,
) -> DuplicateSettings:
    """Change the order of the keeper criteria, the format preference and/or what RAW + JPEG pairs of
    one shot are (audited). Bad input changes nothing. The new order applies to each group the next
    time it is refreshed; "keep both" takes the open RAW + JPEG groups apart at once."""
    policy = duplicate_settings_get()
    policy = DuplicateSettings.objects.select_for_update().get(pk=policy.pk)
    before = {
        "keeper_criteria": list(policy.keeper_criteria),
        "format_priority": list(policy.format_priority),
        "raw_jpeg_pairs": policy.raw_jpeg_pairs,
    }
    changed = []
    if keeper_criteria is not None:
        policy.keeper_criteria = _ordering(keeper_criteria, known=CRITERIA, field="keeper criterion")
        changed.append("keeper_criteria")
    if format_priority is not None:
        policy.format_priority = _ordering(format_priority, known=list(ImageFormat.values), field="format")
        changed.append("format_priority")
    if raw_jpeg_pairs is not None:
        if raw_jpeg_pairs not in RawJpegPairs.values:
            raise InvalidPolicy(
                f"Unknown raw_jpeg_pairs: {raw_jpeg_pairs}.",
                extra={"field": "raw_jpeg_pairs", "allowed": list(RawJpegPairs.values)},
            )
        policy.raw_jpeg_pairs = raw_jpeg_pairs
        changed.append("raw_jpeg_pairs")
    if not changed:
        return policy
    policy.full_clean()
    policy.save(update_fields=[*changed, "updated_at"])
    if before["raw_jpeg_pairs"] != policy.raw_jpeg_pairs == RawJpegPairs.KEEP_BOTH:
        _raw_jpeg_groups_release()
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


def _plain(value):
    return value if isinstance(value, str) else list(value)


def _raw_jpeg_groups_release() -> None:
    """Both kept: the open groups that are one shot as RAW + JPEG go, with the pairs that made them
    (a re-scan under "group" finds them again)."""
    groups = Group.objects.filter(status=GroupStatus.OPEN).exclude(label="")
    ids = list(Member.objects.filter(group__in=groups).values_list("image_id", flat=True))
    Pair.objects.filter(image_a_id__in=ids, image_b_id__in=ids).delete()
    groups.delete()
