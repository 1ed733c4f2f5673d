"""The tenant's duplicate policy: the keeper criteria order, the format preference, what RAW + JPEG
pairs of one shot are (grouped, or both kept) and similar grouping (on/off, threshold). A change
re-ranks every open group at once (its suggested keeper and reason): within the change for a few
groups, else by a duplicates_rerank job; resolved groups keep the keeper they were resolved with.
Switching similar grouping on or changing its threshold regroups in a duplicates_similar_regroup
job; switching it off removes the open similar groups."""

from typing import NamedTuple

from django.db import transaction

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.duplicates.errors import InvalidPolicy, SimilarNeedsModel
from apps.duplicates.keeper import CRITERIA
from apps.duplicates.models import (
    SIMILAR_THRESHOLD_MAX,
    SIMILAR_THRESHOLD_MIN,
    DuplicateSettings,
    Group,
    GroupStatus,
    Kind,
    Member,
    Pair,
    RawJpegPairs,
)
from apps.duplicates.services.detection import tenant_lock
from apps.duplicates.services.groups import duplicate_settings_get, group_refresh
from apps.duplicates.services.jobs import DUPLICATES_RERANK, DUPLICATES_SIMILAR_REGROUP, duplicates_job_create
from apps.duplicates.services.review import open_groups
from apps.duplicates.services.similar import similar_groups_remove
from apps.images.models import ImageFormat
from apps.jobs.models import Job
from apps.jobs.runner import JobContext, job_run
from apps.search.services.models import similarity_model
from apps.storage.models import StorageLocation

SIMILAR_NEEDS_MODEL = (
    "Similar grouping needs an embedding model: switch on CLIP or ResNet-50 under Search (its weights "
    "must be installed on this server) first."
)

RERANK_AT_ONCE = 200  # open groups re-ranked within the request that changes the policy


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


def similar_threshold_problem(value) -> str:
    """Why `value` cannot be the similar threshold ("" when it can)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "The similar threshold is a number from 0.8 to 0.99."
    if not SIMILAR_THRESHOLD_MIN <= value <= SIMILAR_THRESHOLD_MAX:
        low, high = SIMILAR_THRESHOLD_MIN, SIMILAR_THRESHOLD_MAX
        return f"The similar threshold must be from {low} to {high}, not {value}."
    return ""


def duplicate_settings_validate(
    *,
    keeper_criteria: list[str] | None = None,
    format_priority: list[str] | None = None,
    similar_threshold=None,
) -> dict[str, list[str]]:
    """Per-field messages for values that cannot be stored (empty when all are fine)."""
    errors: dict[str, list[str]] = {}
    if similar_threshold is not None and (problem := similar_threshold_problem(similar_threshold)):
        errors["similar_threshold"] = [problem]
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


def similar_model_check(*, switched_on: bool, threshold_changed: bool) -> None:
    """Switching similar grouping on or changing its threshold needs an active embedding model
    (CLIP or ResNet-50 with its weights): SimilarNeedsModel (400) names the field otherwise."""
    if (switched_on or threshold_changed) and similarity_model() is None:
        field = "similar_enabled" if switched_on else "similar_threshold"
        raise SimilarNeedsModel(SIMILAR_NEEDS_MODEL, extra={field: [SIMILAR_NEEDS_MODEL]})


class SettingsChange(NamedTuple):
    policy: DuplicateSettings
    rerank: Job | None  # the open groups re-ranked by the new policy (None: nothing changed)
    similar_regroup: Job | None  # similar switched on or its threshold changed


@transaction.atomic
def duplicate_settings_update(
    *,
    actor: Actor,
    tenant,
    keeper_criteria: list[str] | None = None,
    format_priority: list[str] | None = None,
    raw_jpeg_pairs: str | None = None,
    similar_enabled: bool | None = None,
    similar_threshold: float | None = None,
) -> SettingsChange:
    """Change the order of the keeper criteria, the format preference, what RAW + JPEG pairs of one
    shot are and/or similar grouping (on/off, threshold), audited, and re-rank the open groups by
    it: the duplicates_rerank job is done when there were up to RERANK_AT_ONCE of them, else queued
    (progress at GET duplicates/jobs/{id}). "Keep both" takes the open RAW + JPEG groups apart at
    once. Switching similar on, or a new threshold while it is on, starts a
    duplicates_similar_regroup job; switching it off removes the open similar groups. Switching
    similar on or changing its threshold without an active embedding model is SimilarNeedsModel
    (400). Bad input changes nothing."""
    policy = duplicate_settings_get()
    policy = DuplicateSettings.objects.select_for_update().get(pk=policy.pk)
    before = {
        "keeper_criteria": list(policy.keeper_criteria),
        "format_priority": list(policy.format_priority),
        "raw_jpeg_pairs": policy.raw_jpeg_pairs,
        "similar_enabled": policy.similar_enabled,
        "similar_threshold": policy.similar_threshold,
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
    if similar_threshold is not None:
        if problem := similar_threshold_problem(similar_threshold):
            raise InvalidPolicy(problem, extra={"similar_threshold": [problem]})
        if float(similar_threshold) != policy.similar_threshold:
            policy.similar_threshold = float(similar_threshold)
            changed.append("similar_threshold")
    if similar_enabled is not None and similar_enabled != policy.similar_enabled:
        policy.similar_enabled = similar_enabled
        changed.append("similar_enabled")
    if not changed:
        return SettingsChange(policy, None, None)
    switched_on = "similar_enabled" in changed and policy.similar_enabled
    similar_model_check(switched_on=switched_on, threshold_changed="similar_threshold" in changed)
    policy.full_clean()
    policy.save(update_fields=[*changed, "updated_at"])
    if before["raw_jpeg_pairs"] != policy.raw_jpeg_pairs == RawJpegPairs.KEEP_BOTH:
        _raw_jpeg_groups_release()
    if "similar_enabled" in changed and not policy.similar_enabled:
        tenant_lock()
        similar_groups_remove()
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
    regroup = None
    if policy.similar_enabled and (switched_on or "similar_threshold" in changed):
        regroup = duplicates_job_create(
            kind=DUPLICATES_SIMILAR_REGROUP, actor=actor, params={"threshold": policy.similar_threshold}
        )
    policy.refresh_from_db(fields=["updated_at"])
    count = open_groups().count()
    job = duplicates_job_create(
        kind=DUPLICATES_RERANK,
        actor=actor,
        params={"policy_updated_at": policy.updated_at.isoformat(), "groups": count},
    )
    if count <= RERANK_AT_ONCE:
        # the same runner, here, before its run is enqueued (on commit): the worker finds it done
        job = job_run(job_id=job.pk) or job
    return SettingsChange(policy, job, regroup)


def rerank_run(ctx: JobContext, *, batch: int = 100) -> None:
    """The duplicates_rerank runner: refresh every open group (keeper, reason, figures) by the
    policy, in id order from its cursor; resumable. It stops once the policy changed again (the
    newer change's job re-ranks them all). Resolved and dismissed groups are left as they are."""
    started = ctx.params.get("policy_updated_at")
    groups = open_groups()
    last = ctx.params.get("cursor")
    remaining = groups.filter(pk__gt=last) if last else groups
    ctx.progress(total=ctx.job.processed + remaining.count())
    default_location_id = StorageLocation.objects.filter(is_default=True).values_list("pk", flat=True).first()
    while True:
        policy = duplicate_settings_get()
        if started and policy.updated_at.isoformat() != started:
            return
        chunk = list((groups.filter(pk__gt=last) if last else groups).order_by("pk")[:batch])
        if not chunk:
            return
        for group in chunk:
            group_refresh(group, policy=policy, default_location_id=default_location_id)
        last = str(chunk[-1].pk)
        ctx.heartbeat(processed=len(chunk), params={"cursor": last})


def _raw_jpeg_groups_release() -> None:
    """Both kept: the open groups that are one shot as RAW + JPEG go, with the pairs that made them
    (a re-scan under "group" finds them again)."""
    groups = Group.objects.filter(status=GroupStatus.OPEN).exclude(label="").exclude(kind=Kind.SIMILAR)
    ids = list(Member.objects.filter(group__in=groups).values_list("image_id", flat=True))
    Pair.objects.filter(image_a_id__in=ids, image_b_id__in=ids).delete()
    groups.delete()
