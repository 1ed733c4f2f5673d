"""Locations and images made directly (committed where a test's worker must see them)."""

import hashlib

from django.core.files.base import ContentFile

from apps.images.models import Image, ImageStatus, Thumbnail
from apps.storage.backends import original_key, storage_for, thumbnail_key
from apps.storage.crypto import secrets_encrypt
from apps.storage.models import StorageLocation, StorageProvider
from tests.imagefiles import encode, picture


def fs_location(name: str, root, **fields) -> StorageLocation:
    return StorageLocation.objects.create(
        name=name, provider=StorageProvider.FILESYSTEM, config={"root": str(root)}, **fields
    )


def s3_location(name: str, s3_server, bucket: str, prefix: str = "", **fields) -> StorageLocation:
    config = {"bucket": bucket, "region": "us-east-1", "endpoint_url": s3_server.endpoint}
    if prefix:
        config["prefix"] = prefix
    return StorageLocation.objects.create(
        name=name,
        provider=StorageProvider.S3,
        config=config,
        secrets_encrypted=secrets_encrypt(s3_server.credentials()),
        **fields,
    )


def images_at(location: StorageLocation, *, tenant_slug: str, count: int, thumbnails: int = 2) -> list[Image]:
    """Ready images with their original and `thumbnails` thumbnails stored at the location."""
    storage = storage_for(location)
    made = []
    for n in range(count):
        data = encode(picture(96, 64, seed=n), "JPEG", quality=80)
        image = Image(
            original_filename=f"photo-{n}.jpg",
            format="jpeg",
            content_type="image/jpeg",
            width=96,
            height=64,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_location=location,
            status=ImageStatus.READY,
        )
        image.storage_key = original_key(
            tenant_slug=tenant_slug, image_id=image.pk, created=image.created_at, ext="jpg"
        )
        storage.save(image.storage_key, ContentFile(data))
        image.save()
        for spec in ("small", "medium")[:thumbnails]:
            key = thumbnail_key(
                tenant_slug=tenant_slug, spec=spec, image_id=image.pk, created=image.created_at, fmt="webp"
            )
            thumb = encode(picture(48, 32, seed=n), "WEBP")
            storage.save(key, ContentFile(thumb))
            Thumbnail.objects.create(
                image=image,
                spec=spec,
                spec_version="v1",
                storage_key=key,
                format="webp",
                width=48,
                height=32,
                size_bytes=len(thumb),
            )
        made.append(image)
    return made


def sha256_at(location: StorageLocation, key: str) -> str:
    with storage_for(location).open(key, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()
