from django.urls import reverse
from rest_framework import serializers

from apps.images import pipeline
from apps.images.imaging import hash_hex
from apps.images.models import Image, ImageStatus, Stage, StageState


def image_urls(image: Image) -> dict:
    base = f"/api/v1/images/{image.pk}"
    return {
        "self": base,
        "status": f"{base}/status",
        "download": f"{base}/download",
        "thumbnail": f"{base}/thumbnail?spec=",
        "page": reverse("images:detail", args=[image.pk]),
    }


class ImageOutput(serializers.ModelSerializer):
    filename = serializers.CharField(source="original_filename")
    storage_location = serializers.SerializerMethodField()
    uploaded_by = serializers.SerializerMethodField()
    hashes = serializers.SerializerMethodField()
    thumbnails = serializers.SerializerMethodField()
    urls = serializers.SerializerMethodField()
    # "" while nothing failed (a read-only model field would be documented without the blank choice).
    failed_stage = serializers.ChoiceField(choices=Stage.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Image
        fields = [
            "id",
            "filename",
            "format",
            "content_type",
            "width",
            "height",
            "size_bytes",
            "sha256",
            "hashes",
            "status",
            "failed_stage",
            "failure_reason",
            "tags",
            "description",
            "taken_at",
            "camera",
            "storage_location",
            "uploaded_by",
            "source_url",
            "created_at",
            "processed_at",
            "deleted_at",
            "thumbnails",
            "urls",
        ]
        read_only_fields = fields

    def get_storage_location(self, image) -> dict:
        return {"id": str(image.storage_location_id), "name": image.storage_location.name}

    def get_uploaded_by(self, image) -> str | None:
        return image.uploaded_by.email if image.uploaded_by else None

    def get_hashes(self, image) -> dict:
        return {
            "phash": hash_hex(image.phash),
            "dhash": hash_hex(image.dhash),
            "whash": hash_hex(image.whash),
        }

    def get_thumbnails(self, image) -> list[dict]:
        return [
            {
                "spec": t.spec,
                "width": t.width,
                "height": t.height,
                "format": t.format,
                "size_bytes": t.size_bytes,
                "url": f"/api/v1/images/{image.pk}/thumbnail?spec={t.spec}",
            }
            for t in image.thumbnails.all()
        ]

    def get_urls(self, image) -> dict:
        return image_urls(image)


STAGE_FIELDS = (
    ("upload", "created_at"),
    ("decode", "decoded_at"),
    ("thumbnails", "thumbnails_at"),
    ("hashes", "hashed_at"),
)


def later_stages(image: Image) -> list[dict]:
    """The stages after processing (apps/images/pipeline.py), from the image's ImageStage rows."""
    rows = {row.stage: row for row in image.stages.all()}
    out = []
    for name in pipeline.stage_names():
        row = rows.get(name)
        if row is not None:
            state = row.state
        elif image.status == ImageStatus.FAILED:
            state = "skipped"
        else:
            state = "pending"
        out.append(
            {
                "stage": name,
                "state": state,
                "finished_at": row.finished_at if row else None,
                "attempts": row.attempts if row else 0,
                "reason": (row.reason or None) if row else None,
                "duration_ms": row.duration_ms if row else None,
            }
        )
    return out


def stage_done(stages: list[dict], name: str) -> bool:
    return any(stage["stage"] == name and stage["state"] == StageState.DONE for stage in stages)


def image_status(image: Image) -> dict:
    stages = []
    for name, field in STAGE_FIELDS:
        finished = getattr(image, field)
        if finished is not None:
            state = "done"
        elif image.status == ImageStatus.FAILED and image.failed_stage == name:
            state = "failed"
        elif image.status == ImageStatus.FAILED:
            state = "skipped"
        else:
            state = "pending"
        stages.append({"stage": name, "state": state, "finished_at": finished})
    later = later_stages(image)
    failed_later = next((stage for stage in later if stage["state"] == StageState.FAILED), None)
    return {
        "id": str(image.pk),
        "status": image.status,
        "failed_stage": image.failed_stage or None,
        "failure_reason": image.failure_reason or None,
        "attempts": image.attempts,
        "stages": stages + later,
        "searchable": stage_done(later, "index"),
        "checked_for_duplicates": stage_done(later, "detect"),
        "failed_later_stage": failed_later["stage"] if failed_later else None,
        "processed_at": image.processed_at,
        "deleted": image.deleted_at is not None,
    }


# A day (2026-11-23, midnight UTC) or a full ISO 8601 instant (the search API's JSON filters).
DATE_INPUTS = ["iso-8601", "%Y-%m-%d"]


class ImageMetadataOutput(ImageOutput):
    """GET /images/{id}/metadata: the descriptive fields and the whole EXIF."""

    class Meta(ImageOutput.Meta):
        fields = [
            "id",
            "filename",
            "format",
            "content_type",
            "width",
            "height",
            "size_bytes",
            "sha256",
            "hashes",
            "taken_at",
            "camera",
            "tags",
            "created_at",
            "exif",
        ]
        read_only_fields = fields


class StageOutput(serializers.Serializer):
    stage = serializers.CharField(
        help_text="upload, decode, thumbnails, hashes (processing), then index, detect, embed:<model>."
    )
    state = serializers.ChoiceField(choices=["done", "failed", "skipped", "pending", "running"])
    finished_at = serializers.DateTimeField(allow_null=True)
    attempts = serializers.IntegerField(required=False, help_text="Later stages: tries so far.")
    reason = serializers.CharField(required=False, allow_null=True, help_text="Later stages: why it failed.")
    duration_ms = serializers.IntegerField(required=False, allow_null=True)


class ImageStatusOutput(serializers.Serializer):
    """The shape of image_status(): for the OpenAPI document."""

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ImageStatus.values)
    failed_stage = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField()
    stages = StageOutput(many=True)
    searchable = serializers.BooleanField(help_text="Indexed: found by search with the built-in descriptor.")
    checked_for_duplicates = serializers.BooleanField(help_text="Compared with the library for duplicates.")
    failed_later_stage = serializers.CharField(
        allow_null=True, help_text="A stage after processing that failed (its reason is in `stages`)."
    )
    processed_at = serializers.DateTimeField(allow_null=True)
    deleted = serializers.BooleanField()
