"""Duplicate detection: per-image signatures, the pairs found, groups, and "not duplicates" decisions."""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from pgvector.django import BitField, HnswIndex

from apps.duplicates.keeper import default_keeper_criteria


def default_format_priority() -> list[str]:
    return ["heic", "tiff", "png", "webp", "jpeg", "gif", "bmp"]


class RawJpegPairs(models.TextChoices):
    GROUP = "group", "Group them; keep the RAW"
    KEEP_BOTH = "keep_both", "Keep both; never group them"


SIMILAR_THRESHOLD_DEFAULT = 0.90
SIMILAR_THRESHOLD_MIN, SIMILAR_THRESHOLD_MAX = 0.80, 0.99


class DuplicateSettings(models.Model):
    """The tenant's duplicate policy (one row per tenant schema)."""

    keeper_criteria = ArrayField(
        models.CharField(max_length=12),
        default=default_keeper_criteria,
        help_text="The order in which the suggested keeper's criteria are applied.",
    )
    format_priority = ArrayField(models.CharField(max_length=10), default=default_format_priority)
    similar_enabled = models.BooleanField(
        default=False, help_text="Also group visually similar images (embedding similarity; off by default)."
    )
    similar_threshold = models.FloatField(
        default=SIMILAR_THRESHOLD_DEFAULT,
        validators=[MinValueValidator(SIMILAR_THRESHOLD_MIN), MaxValueValidator(SIMILAR_THRESHOLD_MAX)],
        help_text="Images whose embeddings (the active CLIP or ResNet-50 model) have at least this cosine "
        "similarity form a group of kind similar.",
    )
    raw_jpeg_pairs = models.CharField(
        max_length=10,
        choices=RawJpegPairs.choices,
        default=RawJpegPairs.GROUP,
        help_text="A RAW file and the JPEG the camera rendered of the same shot: grouped (the keeper "
        "policy keeps the RAW) or both kept and never grouped.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "duplicate settings"

    def __str__(self) -> str:
        return "Duplicate settings"


class Signature(models.Model):
    """What detection needs of one image, computed once from its pixels (apps/duplicates/features.py)."""

    image = models.OneToOneField("images.Image", primary_key=True, on_delete=models.CASCADE, related_name="+")
    # the method that made it (signatures.VERSION): older ones are indexed again, a batch at a time
    version = models.PositiveSmallIntegerField(db_index=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # eight signed 64-bit pHashes, orientation 0 first
    phashes = ArrayField(models.BigIntegerField(), size=8)
    # the upright pHash in four 16-bit bands: an exact band match finds candidates without N x N
    band0 = models.IntegerField(db_index=True)
    band1 = models.IntegerField(db_index=True)
    band2 = models.IntegerField(db_index=True)
    band3 = models.IntegerField(db_index=True)
    keypoints = models.BinaryField()
    descriptors = models.BinaryField()
    mirrored_keypoints = models.BinaryField()
    mirrored_descriptors = models.BinaryField()
    thumb = models.BinaryField()
    thumb_width = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"signature of {self.image_id}"


class Anchor(models.Model):
    """A strong ORB descriptor of an image, in an HNSW index (Hamming): images that share several
    anchors are candidates even when cropped, embedded or rotated.

    The graph is built sparser than pgvector's default (m 6, ef_construction 24 instead of 16 and
    64): 48 anchors are written per image indexed, and their inserts are most of the database's CPU
    on the index stage. On the public bench (38,000 anchors) m 8 / ef_construction 32 took them from
    18.8 to 10.6 ms of PostgreSQL CPU per image, the index build from 10.9 to 2.4 s and its size by
    30 %; m 6 / 24 takes them from 8.3 to 5.3 ms of wall time per image, with the same candidates
    found by the anchor search (98.8 % of an exact search's, against 98.9 % at m 8) and the same pairs
    in every family (a copy's anchors are near its original's, far from the rest: a sparse graph
    still reaches them). m 4 / 16 would halve the inserts again but loses 3 % of the candidates."""

    image = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    descriptor = BitField(length=256)

    class Meta:
        indexes = [
            HnswIndex(
                name="anchor_descriptor_hnsw_m6",
                fields=["descriptor"],
                m=6,
                ef_construction=24,
                opclasses=["bit_hamming_ops"],
            )
        ]

    def __str__(self) -> str:
        return f"anchor of {self.image_id}"


class Kind(models.TextChoices):
    EXACT = "exact", "Exact"
    NEAR = "near", "Near-duplicate"
    SIMILAR = "similar", "Visually similar"


class Pair(models.Model):
    """Two images found to be duplicates (image_a's id < image_b's)."""

    image_a = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    image_b = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    signal = models.CharField(max_length=20)
    score = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image_a", "image_b"], name="one_pair_per_images")]
        indexes = [models.Index(fields=["image_b"], name="pair_image_b")]

    def __str__(self) -> str:
        return f"{self.image_a_id} ~ {self.image_b_id} ({self.kind})"


class Dismissal(models.Model):
    """Not duplicates: this pair is never grouped again (image_a's id < image_b's)."""

    image_a = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    image_b = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image_a", "image_b"], name="one_dismissal_per_images")
        ]

    def __str__(self) -> str:
        return f"{self.image_a_id} != {self.image_b_id}"


class GroupStatus(models.TextChoices):
    OPEN = "open", "To review"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Not duplicates"


class Group(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, db_index=True)
    status = models.CharField(max_length=10, choices=GroupStatus.choices, default=GroupStatus.OPEN)
    confidence = models.FloatField(default=1.0)
    member_count = models.PositiveIntegerField(default=0)
    total_bytes = models.BigIntegerField(default=0)
    reclaimable_bytes = models.BigIntegerField(default=0)
    reclaimed_bytes = models.BigIntegerField(default=0)  # moved to the trash when resolved
    # What removing only the byte-identical copies (same SHA-256) among the live members would win:
    # the copies beyond one per SHA-256, and their bytes (part of reclaimable_bytes).
    exact_copies = models.PositiveIntegerField(default=0)
    exact_bytes = models.BigIntegerField(default=0)
    suggested_keeper = models.ForeignKey(
        "images.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    keeper_reason = models.CharField(max_length=200, blank=True)
    label = models.CharField(max_length=60, blank=True)  # e.g. "RAW + JPEG of one shot"
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-reclaimable_bytes", "-id"]
        indexes = [
            models.Index(fields=["status", "kind", "-reclaimable_bytes", "-id"], name="group_by_bytes"),
            models.Index(fields=["status", "kind", "-created_at", "-id"], name="group_by_date"),
            # The review list of every kind: a page read off the index, without sorting all groups.
            models.Index(
                fields=["-reclaimable_bytes", "-id"],
                name="group_open_by_bytes",
                condition=Q(status="open", member_count__gte=2),
            ),
            models.Index(
                fields=["-created_at", "-id"],
                name="group_open_by_date",
                condition=Q(status="open", member_count__gte=2),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} group {self.pk} ({self.member_count})"


class Member(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    image = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="+")
    kept = models.BooleanField(null=True)  # set when the group is resolved

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "image"], name="one_membership_per_group"),
        ]
        indexes = [models.Index(fields=["image"], name="member_image", condition=Q(kept__isnull=True))]

    def __str__(self) -> str:
        return f"{self.image_id} in {self.group_id}"


class ResolutionSource(models.TextChoices):
    SINGLE = "single", "One group"
    BULK = "bulk", "Several groups"
    RESOLVE_ALL = "resolve_all", "Resolve all"
    IDENTICAL = "identical", "Identical copies removed"


class Resolution(models.Model):
    """One undoable resolution: the groups one click (or one resolve-all or remove-identical job)
    resolved or took identical copies from, and the images it moved to the trash. Undo restores those
    still in the trash and reopens the groups it resolved."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=20, choices=ResolutionSource.choices)
    job = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates_resolution"
    )
    group_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    trashed_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    trashed_bytes = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [GinIndex(fields=["group_ids"], name="resolution_group_ids")]

    def __str__(self) -> str:
        return f"resolution {self.pk} ({self.source}, {len(self.group_ids)} groups)"


class TrashedCopy(models.Model):
    """An image a duplicates action moved to the trash. It holds the image's id, not a foreign key,
    so the row outlives the image's purge: its bytes count as reclaimed only from then on (until
    then they are in the trash, restorable, and freed on trash date + retention)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="trashed_copies")
    image_id = models.UUIDField(db_index=True)
    size_bytes = models.BigIntegerField()
    # a byte-identical copy of an image that stayed (not a near-duplicate)
    identical = models.BooleanField(default=False)
    trashed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group", "image_id"], name="one_trashed_copy_per_group"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} trashed from {self.group_id}"
