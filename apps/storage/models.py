import uuid

from django.db import models


class StorageProvider(models.TextChoices):
    FILESYSTEM = "filesystem", "Local or network folder"
    S3 = "s3", "S3 / MinIO"
    AZURE = "azure", "Azure Blob"
    GCS = "gcs", "Google Cloud Storage"


class StorageLocation(models.Model):
    """Where a tenant's originals and thumbnails live. Exactly one is the default for new uploads."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=20, choices=StorageProvider.choices)
    # Non-secret settings: the root folder, or bucket / prefix / region / endpoint URL.
    config = models.JSONField(default=dict, blank=True)
    is_default = models.BooleanField(default=False)
    # Index-only locations are scanned in place; DeepLens never writes originals there.
    index_only = models.BooleanField(default=False)
    # Credentials (keys, connection strings, service account JSON) as a Fernet token; see crypto.py.
    # Never returned by the API.
    secrets_encrypted = models.TextField(blank=True, default="")
    # Index-only locations are never written to: their thumbnails go to this writable location.
    thumbnail_location = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Rescan an index-only location every this many minutes (beat); null: only on demand.
    # A location without keys may act with the host's own cloud identity (instance metadata, the
    # environment, ~/.aws): only if a global admin allows it here (Django admin, never the tenant's
    # API or pages) and DEEPLENS_STORAGE_AMBIENT_CREDENTIALS allows it for the installation.
    ambient_credentials = models.BooleanField(default=False)
    scan_interval_minutes = models.PositiveIntegerField(null=True, blank=True)
    last_scan_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_storage_location",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def target(self) -> str:
        """Where the files are, for people: a folder, or bucket/prefix."""
        if self.provider == StorageProvider.FILESYSTEM:
            return self.config.get("root", "")
        container = self.config.get("bucket") or self.config.get("container", "")
        prefix = self.config.get("prefix", "")
        return f"{container}/{prefix}".rstrip("/")

    @property
    def has_secrets(self) -> bool:
        return bool(self.secrets_encrypted)
