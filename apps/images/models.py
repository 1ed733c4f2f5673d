import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class ThumbnailFormat(models.TextChoices):
    JPEG = "jpeg", "JPEG"
    WEBP = "webp", "WebP"
    PNG = "png", "PNG"
    AVIF = "avif", "AVIF"
    JXL = "jxl", "JPEG XL"


class ThumbnailSpec(models.Model):
    """A thumbnail size the tenant wants for every image; aspect ratio is always preserved."""

    name = models.SlugField(max_length=50, unique=True)
    max_width = models.PositiveIntegerField(validators=[MinValueValidator(16), MaxValueValidator(4096)])
    max_height = models.PositiveIntegerField(validators=[MinValueValidator(16), MaxValueValidator(4096)])
    format = models.CharField(max_length=10, choices=ThumbnailFormat.choices, default=ThumbnailFormat.WEBP)
    quality = models.PositiveSmallIntegerField(
        default=80, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["max_width", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.max_width}x{self.max_height} {self.format})"

    @property
    def version(self) -> str:
        """Changes whenever the spec does, so cached thumbnails of an older spec are never served."""
        return f"{self.max_width}x{self.max_height}-{self.format}-q{self.quality}"


class IdenticalUploads(models.TextChoices):
    KEEP = "keep", "Keep and group"
    REFUSE = "refuse", "Refuse"


class ImageSettings(models.Model):
    """The tenant's image policy (one row per tenant schema)."""

    keep_gps = models.BooleanField(default=True, help_text="Keep GPS coordinates from EXIF.")
    retention_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days a deleted image stays in the trash before it is purged.",
    )
    max_upload_bytes = models.BigIntegerField(default=100 * 1024 * 1024, validators=[MinValueValidator(1024)])
    identical_uploads = models.CharField(
        max_length=10,
        choices=IdenticalUploads.choices,
        default=IdenticalUploads.KEEP,
        help_text="An upload whose bytes are already in the workspace: keep it (and group it) or refuse it.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "image settings"

    def __str__(self) -> str:
        return "Image settings"


class StorageUsage(models.Model):
    """Bytes and count of the tenant's originals (trash included until purged), kept in step with
    every upload and purge so that the quota check is one atomic UPDATE, whatever the collection
    size. `usage_reconcile` recomputes it from the rows."""

    bytes_used = models.BigIntegerField(default=0)
    images = models.BigIntegerField(default=0)
    # Bytes of uploads in flight: the sum of the live StorageReservation rows.
    reserved_bytes = models.BigIntegerField(default=0)
    # The highest quota warning level (0, 80, 100 percent) announced since usage last fell below
    # it: a `quota.warning` webhook goes out once per crossing.
    warned_percent = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.bytes_used} bytes in {self.images} images (+{self.reserved_bytes} reserved)"


class StorageReservation(models.Model):
    """Quota held by one upload between the quota check and the INSERT of its image (which deletes
    this row in the same transaction). A worker that dies in between leaves the row behind; it
    expires and `usage_reconcile` drops it, so the counter cannot leak."""

    size_bytes = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.size_bytes} bytes until {self.expires_at:%Y-%m-%d %H:%M}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"


class IdempotencyKey(models.Model):
    """An `Idempotency-Key` of an upload request and the answer it got, kept for a day so that a
    retry gets the same answer instead of storing again. In PostgreSQL (the tenant's schema), so
    keys survive a Redis outage or flush exactly when the uploads they guard survive."""

    key = models.CharField(max_length=255)
    # "user:<id>" or "api_key:<id>": one client's keys never answer another's requests.
    principal = models.CharField(max_length=80)
    # SHA-256 of the endpoint and the request's content (form fields, file names and hashes).
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(
        max_length=20, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="one_idempotency_key_per_principal")
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.key} ({self.state})"


class ImageFormat(models.TextChoices):
    JPEG = "jpeg", "JPEG"
    PNG = "png", "PNG"
    WEBP = "webp", "WebP"
    TIFF = "tiff", "TIFF"
    BMP = "bmp", "BMP"
    GIF = "gif", "GIF"
    HEIC = "heic", "HEIC"
    AVIF = "avif", "AVIF"
    JXL = "jxl", "JPEG XL"
    # Camera RAW (read through LibRaw)
    DNG = "dng", "DNG"
    CR2 = "cr2", "Canon CR2"
    CR3 = "cr3", "Canon CR3"
    NEF = "nef", "Nikon NEF"
    ARW = "arw", "Sony ARW"
    ORF = "orf", "Olympus ORF"
    RAF = "raf", "Fujifilm RAF"
    RW2 = "rw2", "Panasonic RW2"


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class Stage(models.TextChoices):
    UPLOAD = "upload", "Upload"
    DECODE = "decode", "Decode"
    THUMBNAILS = "thumbnails", "Thumbnails"
    HASHES = "hashes", "Perceptual hashes"


class Image(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    original_filename = models.CharField(max_length=255)
    format = models.CharField(max_length=10, choices=ImageFormat.choices)
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    # 64-bit perceptual hashes as signed integers (the same bits as the unsigned hex form).
    phash = models.BigIntegerField(null=True, blank=True)
    dhash = models.BigIntegerField(null=True, blank=True)
    whash = models.BigIntegerField(null=True, blank=True)
    storage_location = models.ForeignKey(
        "storage.StorageLocation", on_delete=models.PROTECT, related_name="images"
    )
    storage_key = models.CharField(max_length=500)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(
        max_length=12, choices=ImageStatus.choices, default=ImageStatus.PENDING, db_index=True
    )
    failed_stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Not auto_now_add: the original's key is built from the same instant before the row is saved.
    created_at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # The worker processing it ("<node>|<boot id>"), released at once when that worker's heartbeat stops.
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    decoded_at = models.DateTimeField(null=True, blank=True)
    thumbnails_at = models.DateTimeField(null=True, blank=True)
    hashed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    exif = models.JSONField(default=dict, blank=True)
    taken_at = models.DateTimeField(null=True, blank=True, db_index=True)
    camera = models.CharField(max_length=200, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    description = models.TextField(max_length=2000, blank=True, default="")
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Images found by scanning an index-only location: the object's ETag (or size-mtime on a
    # filesystem) when last seen, when a scan last saw it, and since when it has been missing.
    source_version = models.CharField(max_length=200, blank=True, default="")
    last_seen_at = models.DateTimeField(null=True, blank=True)
    missing_at = models.DateTimeField(null=True, blank=True)
    # Not a column: whether this upload's processing wake-up reached the broker, set by image_enqueue
    # once the transaction commits (None before, or for an image it did not enqueue).
    queued: bool | None = None
    # Not a column: the id of an image already stored with the same bytes, set by image_ingest.
    duplicate_of: str | None = None

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            GinIndex(fields=["tags"], name="image_tags_gin"),
            models.Index(fields=["storage_location", "storage_key"], name="image_location_key"),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename} ({self.id})"

    @property
    def pixels(self) -> int:
        return self.width * self.height


class StageState(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImageStage(models.Model):
    """The state of one pipeline stage after processing (apps/images/pipeline.py) for one image:
    "index", "detect" or "embed:<model>". No row means the stage has not run yet. A failed row says
    why; `retryable` ones (the stage gave up on a transient error) are tried again by the sweep."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="stages")
    stage = models.CharField(max_length=60)
    state = models.CharField(max_length=10, choices=StageState.choices, default=StageState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    retryable = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    # The worker holding a running claim ("<node>|<boot id>"): a claim of a worker whose heartbeat
    # stopped is released at once (apps/core/workers.py).
    claimed_by = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "stage"], name="image_stage_unique")]
        indexes = [models.Index(fields=["stage", "state"], name="image_stage_state")]

    def __str__(self) -> str:
        return f"{self.image_id} {self.stage} {self.state}"


class Thumbnail(models.Model):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="thumbnails")
    spec = models.CharField(max_length=50)
    spec_version = models.CharField(max_length=50)
    storage_key = models.CharField(max_length=500)
    format = models.CharField(max_length=10, choices=ThumbnailFormat.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["width"]
        constraints = [models.UniqueConstraint(fields=["image", "spec"], name="one_thumbnail_per_spec")]

    def __str__(self) -> str:
        return f"{self.image_id} {self.spec}"
