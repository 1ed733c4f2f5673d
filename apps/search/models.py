"""Embeddings per image and model, and the models each tenant has switched on.

All embeddings live in one table per tenant schema as `halfvec` (no fixed dimension): pgvector's
HNSW indexes are partial expression indexes, one per (model, dimensions), created when a model is
switched on (apps/search/services/index.py). halfvec halves storage and index size at no measured
recall cost (FACTS.md) and is the only way to index ResNet-50's 2,048 dimensions."""

from django.db import models
from pgvector.django import HalfVectorField


class ModelKey(models.TextChoices):
    DESCRIPTOR = "descriptor", "Visual descriptor (built in)"
    CLIP = "clip", "CLIP (images and text)"
    RESNET50 = "resnet50", "ResNet-50"


class SearchModel(models.Model):
    """A model this tenant uses. The descriptor is always active; others are switched on by an admin,
    which re-embeds the collection in a job."""

    key = models.CharField(max_length=20, choices=ModelKey.choices, unique=True)
    is_active = models.BooleanField(default=False)
    # The weights version the collection is being (or was) embedded with, and their dimensions.
    version = models.CharField(max_length=120, blank=True)
    dimensions = models.PositiveSmallIntegerField(default=0)
    activated_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.key} ({'on' if self.is_active else 'off'})"


class Embedding(models.Model):
    image = models.ForeignKey("images.Image", on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(max_length=20, choices=ModelKey.choices)
    version = models.CharField(max_length=120)
    dimensions = models.PositiveSmallIntegerField()
    vector = HalfVectorField()
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["image", "model"], name="search_embedding_image_model")
        ]
        indexes = [models.Index(fields=["model", "version"], name="search_embedding_model_version")]

    def __str__(self) -> str:
        return f"{self.model} {self.version} of {self.image_id}"
