"""The full re-scan job: every live image's signature (recomputed when the method changed), its
matches, then all open exact and near groups rebuilt at once from the pairs by union-find. Resolved
and dismissed groups stay as they are, and so do open similar groups (less the images that are
duplicates); dismissed pairs are never grouped."""

import logging

import cv2
from django.db import transaction

from apps.duplicates import candidates
from apps.duplicates.grouping import components
from apps.duplicates.models import Dismissal, Group, GroupStatus, Kind, Member, Pair, Signature
from apps.duplicates.services.detection import (
    descriptor_stored,
    features_compute,
    images_alive,
    matches_find,
    signature_store,
    signature_usable,
    tenant_lock,
)
from apps.duplicates.services.groups import duplicate_settings_get, group_refresh, similar_release
from apps.duplicates.signatures import features_of
from apps.images import imaging
from apps.images.models import Image, ImageStatus
from apps.jobs.runner import JobContext
from apps.storage.models import StorageLocation

logger = logging.getLogger(__name__)
BATCH = 50


def _ordered(a, b):
    return (a, b) if str(a) < str(b) else (b, a)


def rescan_run(ctx: JobContext) -> None:
    """The duplicates_rescan runner. The matches are gathered in memory, so a resumed re-scan starts
    over; a cancelled one stops before it rebuilds anything."""
    images = Image.objects.filter(deleted_at__isnull=True, status=ImageStatus.READY).order_by(
        "created_at", "pk"
    )
    ctx.progress(total=images.count(), processed=0, failed=0)
    found: dict = {}
    offset = 0
    while True:
        batch = list(images.select_related("storage_location")[offset : offset + BATCH])
        if not batch:
            break
        offset += len(batch)
        done = failed = 0
        for image in batch:
            sig = Signature.objects.filter(image_id=image.pk).first()
            vector = descriptor_stored(image.pk)
            try:
                if sig is None or not signature_usable(sig) or vector is None:
                    features, vector = features_compute(image)
                    signature_store(image=image, features=features, vector=vector)
                else:
                    features = features_of(sig)
            except (
                imaging.NotAnImage,
                imaging.CorruptImage,
                imaging.TooManyPixels,
                OSError,
                cv2.error,
            ) as exc:
                # One image OpenCV cannot take (a 1x20000 strip) is counted failed; the rest go on.
                logger.warning("rescan %s: image %s failed: %s", ctx.job.pk, image.pk, exc)
                failed += 1
                continue
            for other, decision in matches_find(
                candidates.Query(image_id=image.pk, sha256=image.sha256, features=features, descriptor=vector)
            ):
                found[_ordered(image.pk, other)] = decision
            done += 1
        ctx.heartbeat(processed=done, failed=failed)
    with transaction.atomic():
        tenant_lock()
        groups_rebuild(found=found)


def groups_rebuild(*, found: dict) -> int:
    """Replace the pairs and the open groups by those of `found` ((a, b) -> Decision). Under tenant_lock()."""
    dismissed = set(Dismissal.objects.values_list("image_a_id", "image_b_id"))
    alive = images_alive({i for pair in found for i in pair})
    edges = {
        pair: d
        for pair, d in found.items()
        if pair not in dismissed and pair[0] in alive and pair[1] in alive
    }
    Pair.objects.all().delete()
    Pair.objects.bulk_create(
        [
            Pair(image_a_id=a, image_b_id=b, kind=d.kind, signal=d.signal, score=d.score)
            for (a, b), d in edges.items()
        ],
        batch_size=2000,
    )
    # the open similar groups stay (their own regroup job rebuilds them), less the images that are
    # duplicates now
    Group.objects.filter(status=GroupStatus.OPEN).exclude(kind=Kind.SIMILAR).delete()
    policy = duplicate_settings_get()
    default_location = StorageLocation.objects.filter(is_default=True).values_list("pk", flat=True).first()
    made = 0
    for members in components(edges):
        group = Group.objects.create(kind=Kind.NEAR)
        Member.objects.bulk_create([Member(group=group, image_id=i) for i in members])
        group_refresh(group, policy=policy, default_location_id=default_location)
        made += 1
    similar_release(image_ids={i for pair in edges for i in pair})
    return made
