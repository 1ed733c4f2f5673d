"""Incremental detection: an image's signature, its candidates, the pairs found, and the groups.

Concurrency: the signature is committed first; then candidates are searched and verified, outside
any lock; then, under a per-tenant advisory lock, the pairs are stored and the groups merged. Of two
copies indexed at the same moment, the one whose signature committed second finds the other's in
its search (each statement sees every transaction committed before it began), so the pair is always
found and both end in one group (Immich runs detection with a concurrency of 1 instead), while the
expensive verification of different images runs in parallel.

Cost: the cheap decisions (same bytes, close pHashes) come first; local features are verified only
for the candidates they leave open, and not for those already grouped with a match. The mirrored
ORB set is computed for the image being indexed and not stored: verification mirrors the query,
never the stored candidate.
"""

import logging
import uuid
import zlib

import numpy as np
from django.db import transaction

from apps.core.connection import connection
from apps.duplicates import candidates
from apps.duplicates import features as F
from apps.duplicates.models import (
    Anchor,
    Dismissal,
    Group,
    Kind,
    Pair,
    RawJpegPairs,
    Signature,
)
from apps.duplicates.raw_pairs import same_shot
from apps.duplicates.selectors import candidates_stored, group_members_of, open_memberships
from apps.duplicates.services.groups import duplicate_settings_get, group_join, similar_release
from apps.duplicates.signatures import VERSION, anchor_bits, features_of, signature_row
from apps.images import imaging
from apps.images.models import Image, ImageStatus, StageState
from apps.images.originals import decode_original
from apps.images.services.stages import StageResult, stages_record
from apps.search import descriptor
from apps.search.embedders.registry import DESCRIPTOR
from apps.search.models import Embedding
from apps.search.selectors import vector_of
from apps.search.services.cache import index_changed
from apps.search.services.embedding import descriptor_of, embeddings_record

logger = logging.getLogger(__name__)
# Duplicate features work at F.WORK_SIDE and the descriptor at 128 px: a JPEG decoded in draft mode
# to this side serves both (a 12-megapixel photo decodes at 1/8 scale instead of 1/4).
DECODE_SIDE = F.WORK_SIDE


class IndexFailed(Exception):
    """The image cannot be indexed (its original is unreadable); the message says why, for people."""


def tenant_lock() -> None:
    """Serialise grouping within this tenant until the transaction ends."""
    key = zlib.crc32(f"duplicates:{connection.schema_name}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def features_compute(image: Image) -> tuple[F.Features, np.ndarray]:
    """One decode of the original for the index stage: the duplicate signature and the search app's
    weight-free descriptor."""
    decoded = decode_original(image, longest_needed=DECODE_SIDE)
    return F.extract(decoded.image), descriptor_of(decoded.image)


def signature_usable(sig: Signature) -> bool:
    """A stored signature detection can start from: of the current method, with the mirrored ORB set
    (not stored since the index stage stopped storing it, so detecting again recomputes it)."""
    return sig.version == VERSION and bool(sig.mirrored_descriptors)


def descriptor_stored(image_id) -> np.ndarray | None:
    row = Embedding.objects.filter(image_id=image_id, model=DESCRIPTOR, version=descriptor.VERSION).first()
    return None if row is None else vector_of(row)


def image_lock(image_id) -> None:
    """Serialise writers of one image's signature until the transaction ends: two tasks detecting the
    same image at once (a retry beside a rescan) replace the row in turn instead of colliding."""
    key = zlib.crc32(f"duplicates:{connection.schema_name}:{image_id}".encode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(1, %s)", [key - (1 << 31)])


def images_alive(ids) -> set:
    """Of `ids`, the images still stored, each held FOR KEY SHARE until the transaction ends: a purge
    (which locks the row FOR UPDATE first) waits for our rows and deletes them with the image, and
    rows for an image purged meanwhile are never written."""
    ids = list(ids)
    if not ids:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Image._meta.db_table} WHERE id = ANY(%s) ORDER BY id FOR KEY SHARE", [ids]
        )
        return {row[0] for row in cursor.fetchall()}


def signature_store(
    *, image: Image, features: F.Features, vector: np.ndarray | None = None
) -> Signature | None:
    """Replace the image's signature and anchors (and its descriptor, when given); None when the
    image was purged meanwhile."""
    with transaction.atomic():
        image_lock(image.pk)
        if not images_alive([image.pk]):
            return None
        _signature_clear(image.pk)
        sig = signature_row(image_id=image.pk, features=features)
        sig.save(force_insert=True)
        _anchors_write(image.pk, features)
        if vector is not None:
            embeddings_record(model=DESCRIPTOR, version=descriptor.VERSION, vectors={image.pk: vector})
            # Searchable by the descriptor and comparable from now on.
            stages_record([StageResult(image_id=image.pk, stage="index", state=StageState.DONE)])
    return sig


def _signature_clear(image_id) -> None:
    """The image's signature and anchors deleted, in one round trip (nothing refers to them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Signature._meta.db_table} WHERE image_id = %s;"
            f"DELETE FROM {Anchor._meta.db_table} WHERE image_id = %s",
            [image_id, image_id],
        )


def _anchors_write(image_id, features: F.Features) -> None:
    """The image's anchors in one statement over an array of bit strings: bulk_create built a model
    and bound two parameters per row, a third of signature_store's own CPU (py-spy)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Anchor._meta.db_table} (image_id, descriptor) "
            "SELECT %s, d::bit(256) FROM unnest(%s::text[]) AS d",
            [image_id, anchor_bits(features)],
        )


def candidates_find(query: candidates.Query, *, limit: int = candidates.MAX_CANDIDATES) -> list:
    seen: dict = {}
    for source in candidates.SOURCES:
        for image_id in source.candidates(query, limit=limit):
            seen.setdefault(image_id, source.name)
    return list(seen)


def matches_find(
    query: candidates.Query,
    *,
    checked: set | None = None,
    extra=(),
    skip_grouped: bool = False,
    follow_groups: bool = False,
) -> list[tuple[uuid.UUID, candidates.Decision]]:
    """Stored, live images the query duplicates, with the decision for each: the one function
    detection, search and `search/duplicates` decide with. `extra` adds candidates of the caller's
    own (search: its nearest by the active model). Candidates in `checked` are skipped; the ones
    verified now are added to it.

    The cheap decisions (same bytes, close pHashes) are taken for every candidate first. With
    `skip_grouped`, a candidate that is already in an open group with an image the query was found
    to duplicate is not verified with local features: grouping would put it beside the query anyway
    (the index stage). With `follow_groups` (a lookup, which is never grouped itself), the other
    members of the open groups of the matches found are matches too, as a search by a stored image's
    id lists them (signal "group": duplicates through another copy, not verified again): a copy too
    changed for the candidate sources to find (a photo shrunk into a larger picture) is found
    through a copy they do find, and the copies in one group are not each verified."""
    found = list(dict.fromkeys([*candidates_find(query), *(uuid.UUID(str(i)) for i in extra)]))
    ids = [i for i in found if i != query.image_id and (checked is None or i not in checked)]
    if checked is not None:
        checked.update(ids)
    out = _decided(query, ids, skip_grouped=skip_grouped or follow_groups)
    if follow_groups and out:
        matched = {image_id for image_id, _d in out}
        members = group_members_of(image_ids=matched, limit=GROUP_FOLLOW_LIMIT)
        through = candidates.Decision(kind=Kind.NEAR, signal="group", score=0.0)
        out += [(i, through) for i in members if i != query.image_id and i not in matched]
    return out


# Members of the matches' groups listed per lookup, at most (a group of thousands of copies of one
# stock photo lists its first few hundred).
GROUP_FOLLOW_LIMIT = 500


def _decided(query: candidates.Query, ids: list, *, skip_grouped: bool) -> list:
    if not ids:
        return []
    ranked = {image_id: n for n, image_id in enumerate(ids)}  # the sources' order: likeliest first
    stored = sorted(candidates_stored(image_ids=ids, groups=skip_grouped), key=lambda c: ranked[c.image_id])
    out, undecided = [], []
    for c in stored:
        decision = candidates.decide_cheap(a=query.features, b=c.features, a_sha=query.sha256, b_sha=c.sha256)
        if decision is not None:
            out.append((c.image_id, decision))
        else:
            undecided.append(c)
    decided = {image_id for image_id, _d in out}
    joined = {c.group_id for c in stored if c.group_id is not None and c.image_id in decided}
    for c in undecided:
        if c.group_id is not None and c.group_id in joined:
            continue
        decision = candidates.decide_verified(a=query.features, b=c.features)
        if decision is not None:
            out.append((c.image_id, decision))
            if c.group_id is not None:
                joined.add(c.group_id)
    return out


def _ordered(a, b):
    return (a, b) if str(a) < str(b) else (b, a)


def image_detect(*, image_id) -> Group | None:
    """image_index() for callers that need no reason: None also when the image cannot be indexed."""
    try:
        return image_index(image_id=image_id)
    except IndexFailed as exc:
        logger.warning("duplicates: image %s cannot be indexed: %s", image_id, exc)
        return None


def image_index(*, image_id) -> Group | None:
    """Compute the image's signature and descriptor if needed (the index stage), find its
    duplicates and group them (detect). Harmless to run twice. Returns the open group the image is
    in, if any; raises IndexFailed when the original cannot be decoded."""
    image = Image.objects.select_related("storage_location").filter(pk=image_id).first()
    if image is None or image.deleted_at is not None or image.status != ImageStatus.READY:
        logger.info("duplicates: image %s is gone, deleted or not ready", image_id)
        return None
    sig = Signature.objects.filter(image_id=image.pk).first()
    # A fresh image (no usable signature) is computed whole: its stored descriptor is not read.
    vector = descriptor_stored(image.pk) if sig is not None and signature_usable(sig) else None
    if sig is None or vector is None:
        try:
            features, vector = features_compute(image)
        except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels) as exc:
            raise IndexFailed(f"The original could not be decoded: {exc}.") from exc
        if signature_store(image=image, features=features, vector=vector) is None:
            return None
    else:
        features = features_of(sig)
    query = candidates.Query(image_id=image.pk, sha256=image.sha256, features=features, descriptor=vector)
    # The expensive verification runs outside the lock. One search is enough: the signature was
    # committed before it, so of two copies indexed at the same moment, the one whose signature
    # committed second finds the other's (READ COMMITTED: each statement sees what committed before
    # it began); the lock only serialises the grouping.
    found = matches_find(query, skip_grouped=True)
    if not found:  # nothing to store or group: no lock to wait for
        return None
    with transaction.atomic():
        tenant_lock()
        return pairs_record(image_id=image.pk, found=found)


def pairs_record(*, image_id, found) -> Group | None:
    """Store the pairs (except dismissed ones) and put the image and its matches in one open group,
    merging the open groups they were in. Call under tenant_lock()."""
    dismissed = _dismissed_with(image_id, [other for other, _d in found])
    found = [(other, d) for other, d in found if _ordered(image_id, other) not in dismissed]
    if not found:
        return None
    policy = duplicate_settings_get()
    if policy.raw_jpeg_pairs == RawJpegPairs.KEEP_BOTH:
        shots = _same_shots(image_id, [other for other, _d in found])
        found = [(other, d) for other, d in found if other not in shots]
    if not found:
        return None
    alive = images_alive([image_id] + [other for other, _d in found])
    if image_id not in alive:
        return None
    found = [(other, d) for other, d in found if other in alive]
    if not found:
        return None
    Pair.objects.bulk_create(
        [
            Pair(image_a_id=a, image_b_id=b, kind=d.kind, signal=d.signal, score=d.score)
            for other, d in found
            for a, b in [_ordered(image_id, other)]
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(index_changed)  # searches show verified matches: cached answers are stale
    ids = [image_id] + [other for other, _d in found]
    # exact and near groups only: a similar group is never merged into (apps/duplicates/services/similar.py)
    group_ids = open_memberships(image_ids=ids).values("group_id")
    groups = list(Group.objects.select_for_update().filter(pk__in=group_ids).order_by("created_at", "id"))
    kind = Kind.EXACT if all(d.kind == Kind.EXACT for _o, d in found) else Kind.NEAR
    group = group_join(groups=groups, image_ids=ids, kind=kind, policy=policy)
    similar_release(image_ids=ids)  # duplicates now, no longer merely similar
    return group


def _same_shots(image_id, others) -> set:
    """Of `others`, the images that are the same shot as the image in another format (RAW + JPEG)."""
    rows = {
        i.pk: i
        for i in Image.objects.filter(pk__in=[image_id, *others]).only("pk", "format", "camera", "taken_at")
    }
    image = rows.get(image_id)
    return {o for o in others if image is not None and o in rows and same_shot(image, rows[o])}


def _dismissed_with(image_id, others) -> set:
    pairs = {_ordered(image_id, o) for o in others}
    if not pairs:
        return set()
    rows = Dismissal.objects.filter(
        image_a_id__in=[a for a, _b in pairs], image_b_id__in=[b for _a, b in pairs]
    )
    return {(r.image_a_id, r.image_b_id) for r in rows} & pairs


def lookup_query(*, data, sha256: str) -> candidates.Query:
    """The query of an image that is not stored: decoded as the index stage decodes, its duplicate
    features and weight-free descriptor (raises imaging.NotAnImage / CorruptImage / TooManyPixels)."""
    decoded = imaging.decode(data, longest_needed=DECODE_SIDE)
    features = F.extract(decoded.image)
    vector = descriptor.describe(decoded.image)
    return candidates.Query(image_id=None, sha256=sha256, features=features, descriptor=vector)


def image_query(image: Image) -> candidates.Query:
    """The query of a stored image: its signature and descriptor, computed from the original when the
    index stage has not stored them yet (nothing is stored here). Raises IndexFailed when the
    original cannot be decoded."""
    sig = Signature.objects.filter(image_id=image.pk).first()
    vector = descriptor_stored(image.pk)
    if sig is None or sig.version != VERSION or vector is None:
        try:
            features, vector = features_compute(image)
        except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels) as exc:
            raise IndexFailed(f"The original could not be decoded: {exc}.") from exc
    else:
        features = features_of(sig)
    return candidates.Query(image_id=image.pk, sha256=image.sha256, features=features, descriptor=vector)


def lookup(*, data, sha256: str, extra=()) -> list[tuple[uuid.UUID, candidates.Decision]]:
    """Duplicates of an image that is not stored (the search endpoints)."""
    return matches_find(lookup_query(data=data, sha256=sha256), extra=extra, follow_groups=True)
