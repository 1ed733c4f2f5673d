"""Group bookkeeping: merging, and the figures kept on each group (kind, keeper, bytes)."""

from django.db.models import Min

from apps.duplicates.identical import identical_figures
from apps.duplicates.keeper import keeper_suggest
from apps.duplicates.models import DuplicateSettings, Group, GroupStatus, Kind, Member, Pair
from apps.duplicates.provenance import derivations, facts_read
from apps.duplicates.raw_pairs import is_raw, same_shot, shot_label
from apps.images.models import Image
from apps.storage.models import StorageLocation
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_emit


def duplicate_settings_get() -> DuplicateSettings:
    settings_row = DuplicateSettings.objects.first()
    return settings_row or DuplicateSettings.objects.create()


def groups_merge(groups: list[Group]) -> Group:
    """The oldest absorbs the others' members."""
    target, others = groups[0], groups[1:]
    if others:
        present = set(Member.objects.filter(group=target).values_list("image_id", flat=True))
        moving = Member.objects.filter(group__in=others).exclude(image_id__in=present)
        Member.objects.bulk_create([Member(group=target, image_id=m.image_id) for m in moving])
        Group.objects.filter(pk__in=[g.pk for g in others]).delete()
    return target


def group_join(
    *,
    groups: list[Group],
    image_ids: list,
    kind: str,
    confidence: float | None = None,
    policy: DuplicateSettings | None = None,
) -> Group:
    """The images join one open group: `groups` merged (the oldest first), or a new group of `kind`.

    The members not yet in it are added, its figures refreshed (with `policy`, when the caller has
    read the settings already), and a duplicates.group_found event names who joined. `confidence`
    lowers the group's to the weakest link that holds it together."""
    group = groups_merge(groups) if groups else Group.objects.create(kind=kind)
    present = set(Member.objects.filter(group=group).values_list("image_id", flat=True))
    joining = [i for i in image_ids if i not in present]
    Member.objects.bulk_create([Member(group=group, image_id=i) for i in joining])
    if confidence is not None:
        group.confidence = round(min(group.confidence, confidence), 4)
    group = group_refresh(group, policy=policy)
    if joining:
        webhook_emit(
            event=WebhookEvent.DUPLICATES_GROUP_FOUND,
            data={
                "group_id": str(group.pk),
                "kind": group.kind,
                "new": not present,
                "joined": [str(i) for i in joining],
                "member_count": group.member_count,
            },
        )
    return group


def group_refresh(
    group: Group, *, policy: DuplicateSettings | None = None, default_location_id=None
) -> Group:
    """Recompute kind, confidence, keeper and bytes from the live members."""
    policy = policy or duplicate_settings_get()
    if default_location_id is None:
        default_location_id = (
            StorageLocation.objects.filter(is_default=True).values_list("pk", flat=True).first()
        )
    images = list(
        Image.objects.filter(
            pk__in=Member.objects.filter(group=group).values("image_id"), deleted_at__isnull=True
        ).select_related("storage_location")  # the keeper's evidence reads the originals
    )
    ids = [i.pk for i in images]
    if group.kind != Kind.SIMILAR:  # a similar group keeps its kind and its weakest similarity
        weakest = dict(  # {kind: its weakest pair's score} of the pairs among the members
            Pair.objects.filter(image_a_id__in=ids, image_b_id__in=ids)
            .order_by()
            .values_list("kind")
            .annotate(m=Min("score"))
        )
        group.kind = Kind.EXACT if set(weakest) == {Kind.EXACT} else Kind.NEAR
        group.confidence = min(weakest.values(), default=None) or 1.0
    group.member_count = len(images)
    group.total_bytes = sum(i.size_bytes for i in images)
    if images:
        derived = derivations({i.pk: facts_read(i) for i in images}) if len(images) > 1 else {}
        derived.update(_camera_renders(images, derived))
        keeper, reason = keeper_suggest(
            images,
            format_priority=policy.format_priority,
            criteria=policy.keeper_criteria,
            default_location_id=default_location_id,
            derived=derived,
        )
        group.suggested_keeper, group.keeper_reason = keeper, reason
        group.reclaimable_bytes = group.total_bytes - keeper.size_bytes
    else:
        group.suggested_keeper, group.keeper_reason, group.reclaimable_bytes = None, "", 0
    group.exact_copies, group.exact_bytes = identical_figures(images)
    group.label = shot_label(images)
    group.save(
        update_fields=[
            "label",
            "kind",
            "confidence",
            "member_count",
            "total_bytes",
            "suggested_keeper",
            "keeper_reason",
            "reclaimable_bytes",
            "exact_copies",
            "exact_bytes",
            "updated_at",
        ]
    )
    return group


def _camera_renders(images: list[Image], derived: dict) -> dict:
    """The camera's own JPEG of a RAW shot was made from that RAW, whatever the pixels say."""
    made = {d for d, _s in derived}
    return {
        (other.pk, raw.pk): f"the {other.get_format_display()} is the camera's render of this "
        f"{raw.get_format_display()} (same camera and capture time)"
        for raw in images
        if is_raw(raw)
        for other in images
        if other.pk not in made and same_shot(raw, other)
    }


def similar_release(*, image_ids) -> int:
    """These images are exact or near duplicates now: they leave their open similar groups, and a
    similar group left with fewer than two images goes. Returns how many groups changed."""
    memberships = Member.objects.filter(
        image_id__in=list(image_ids), group__status=GroupStatus.OPEN, group__kind=Kind.SIMILAR
    )
    group_ids = set(memberships.values_list("group_id", flat=True))
    if not group_ids:
        return 0
    memberships.delete()
    for group in Group.objects.filter(pk__in=group_ids):
        if Member.objects.filter(group=group).count() < 2:
            group.delete()
        else:
            group_refresh(group)
    return len(group_ids)
