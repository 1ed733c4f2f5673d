from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ThumbnailFormat(models.TextChoices):
    JPEG = "jpeg", "JPEG"
    WEBP = "webp", "WebP"
    PNG = "png", "PNG"
    AVIF = "avif", "AVIF"


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
