"""Similar grouping (off by default; DuplicateSettings.similar_enabled and .similar_threshold).

Images whose embeddings by the tenant's active model (CLIP, else ResNet-50, with real weights:
apps.search.services.models.similarity_model) have a cosine similarity of at least the threshold
form groups of kind "similar": single-link components over each image's nearest neighbours in the
model's HNSW index. They are kept apart from exact and near groups:

- an image in an open exact or near group is never grouped as similar (it is a duplicate already),
  and one that detection puts in such a group later leaves its similar group (similar_release);
- detection never merges into a similar group, nor similar grouping into an exact or near one;
- resolve-all, remove-identical and the reclaimable figures of the report leave similar groups out
  (a similar picture is not a copy); one similar group may still be resolved by hand.

Grouping runs after an image's embedding is stored (the embed stage and the activation job call
similar_after_embed through apps.search's embeddings_stored hook). Switching similar on or
changing the threshold regroups every image in a duplicates_similar_regroup job; switching it off
removes the open similar groups at once.
"""

import logging
import uuid

from django.db import transaction

from apps.duplicates.models import Dismissal, DuplicateSettings, Group, GroupStatus, Kind, Member
from apps.duplicates.services.detection import images_alive, tenant_lock
from apps.duplicates.services.groups import duplicate_settings_get, group_join
from apps.images.models import ImageStatus
from apps.jobs.runner import JobContext
from apps.search.models import Embedding, SearchModel
from apps.search.selectors import vector_neighbours, vector_of
from apps.search.services.models import similarity_model

logger = logging.getLogger(__name__)
NEIGHBOURS = 20  # nearest images looked at per image
REGROUP_BATCH = 100


def _ordered(a, b):
    return (a, b) if str(a) < str(b) else (b, a)


def similar_active() -> tuple[DuplicateSettings, SearchModel] | None:
    """The policy and the model when similar grouping is on and can run here; else None."""
    policy = duplicate_settings_get()
    if not policy.similar_enabled:
        return None
    model = similarity_model()
    if model is None or not model.version:
        return None
    return policy, model


def similar_after_embed(*, model: str, image_ids: list) -> int:
    """The embeddings_stored hook: group these freshly embedded images when similar grouping is on
    and `model` is the one it uses. Returns how many of them are in a similar group now."""
    active = similar_active()
    if active is None or active[1].key != model:
        return 0
    policy, search_model = active
    return images_group_similar(image_ids=image_ids, model=search_model, threshold=policy.similar_threshold)


def images_group_similar(*, image_ids: list, model: SearchModel, threshold: float) -> int:
    """Find each image's similar neighbours (outside any lock), then group them under the tenant's
    grouping lock, one image per transaction. Harmless to repeat."""
    grouped = 0
    rows = {
        row.image_id: row
        for row in Embedding.objects.filter(image_id__in=image_ids, model=model.key, version=model.version)
    }
    for image_id, row in rows.items():
        neighbours = vector_neighbours(
            model=model.key,
            version=model.version,
            vector=vector_of(row),
            limit=NEIGHBOURS,
            exclude_image_id=image_id,
        )
        found = [
            (uuid.UUID(str(other)), float(score)) for other, score in neighbours if float(score) >= threshold
        ]
        with transaction.atomic():
            tenant_lock()
            if similar_record(image_id=image_id, found=found) is not None:
                grouped += 1
    return grouped


def _duplicates_grouped(image_ids: list) -> set:
    """Of these images, those in an open exact or near group."""
    return set(
        Member.objects.filter(image_id__in=image_ids, group__status=GroupStatus.OPEN)
        .exclude(group__kind=Kind.SIMILAR)
        .values_list("image_id", flat=True)
    )


def _dismissed(image_id, others: list) -> set:
    pairs = {_ordered(image_id, other) for other in others}
    if not pairs:
        return set()
    rows = Dismissal.objects.filter(
        image_a_id__in=[a for a, _b in pairs], image_b_id__in=[b for _a, b in pairs]
    ).values_list("image_a_id", "image_b_id")
    return {b if a == image_id else a for a, b in rows if (a, b) in pairs}


def similar_record(*, image_id, found: list[tuple]) -> Group | None:
    """Put the image and its similar neighbours `found` ([(image id, cosine similarity)]) in one open
    similar group, merging the open similar groups they are in; images that are exact or near
    duplicates, pairs a person dismissed and images gone are left out. Call under tenant_lock()."""
    others = [other for other, _score in found]
    duplicates = _duplicates_grouped([image_id, *others])
    if image_id in duplicates:
        return None
    dismissed = _dismissed(image_id, others)
    found = [(o, s) for o, s in found if o not in duplicates and o not in dismissed]
    if not found:
        return None
    alive = images_alive([image_id, *(o for o, _s in found)])
    if image_id not in alive:
        return None
    found = [(o, s) for o, s in found if o in alive]
    if not found:
        return None
    ids = [image_id, *(o for o, _s in found)]
    group_ids = Member.objects.filter(
        image_id__in=ids, group__status=GroupStatus.OPEN, group__kind=Kind.SIMILAR
    ).values("group_id")
    groups = list(Group.objects.select_for_update().filter(pk__in=group_ids).order_by("created_at", "id"))
    # the weakest similarity that holds the group together
    return group_join(groups=groups, image_ids=ids, kind=Kind.SIMILAR, confidence=min(s for _o, s in found))


def similar_groups_remove() -> int:
    """Similar grouping is off: the open similar groups go (resolved ones stay, as history)."""
    deleted, _by_model = Group.objects.filter(status=GroupStatus.OPEN, kind=Kind.SIMILAR).delete()
    return deleted


def similar_regroup_run(ctx: JobContext, *, batch: int = REGROUP_BATCH) -> None:
    """The duplicates_similar_regroup runner (similar switched on, or the threshold changed): the open
    similar groups are taken apart, then every image embedded by the model is grouped again, in id
    order from the cursor; resumable. It stops when similar grouping was switched off or its
    threshold changed since (that change's own job takes over)."""
    wanted = ctx.params.get("threshold")
    active = similar_active()
    if active is None:
        ctx.progress(total=0)
        return
    policy, model = active
    if wanted is not None and policy.similar_threshold != wanted:
        return
    last = ctx.params.get("cursor")
    if not last:
        with transaction.atomic():
            tenant_lock()
            similar_groups_remove()
    embedded = (
        Embedding.objects.filter(
            model=model.key,
            version=model.version,
            image__deleted_at__isnull=True,
            image__status=ImageStatus.READY,
        )
        .order_by("image_id")
        .values_list("image_id", flat=True)
    )
    remaining = embedded.filter(image_id__gt=last) if last else embedded
    ctx.progress(total=ctx.job.processed + remaining.count())
    while True:
        policy = duplicate_settings_get()
        if not policy.similar_enabled or (wanted is not None and policy.similar_threshold != wanted):
            return
        chunk = list((embedded.filter(image_id__gt=last) if last else embedded)[:batch])
        if not chunk:
            return
        images_group_similar(image_ids=chunk, model=model, threshold=policy.similar_threshold)
        last = str(chunk[-1])
        ctx.heartbeat(processed=len(chunk), params={"cursor": last})
