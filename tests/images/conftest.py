from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.models import Image
from apps.images.services import image_process
from tests.api import Api, as_user


def uploaded(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def media_files() -> set[str]:
    root = Path(settings.DEEPLENS_MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


@pytest.fixture
def member_api(users) -> Api:
    return as_user(users[Role.MEMBER])


@pytest.fixture
def admin_api(users) -> Api:
    return as_user(users[Role.ADMIN])


def upload(api: Api, name: str, data: bytes, **fields):
    return api.client.post("/api/v1/images/upload", {"file": uploaded(name, data), **fields}, **api.headers)


def process(tenant, image_id) -> Image:
    with tenant_context(tenant):
        image_process(image_id=image_id, tenant_slug=tenant.slug)
        return Image.objects.prefetch_related("thumbnails").get(pk=image_id)


@pytest.fixture
def ready_image(alpha, member_api):
    """An uploaded and processed JPEG of alpha's member."""
    from tests.imagefiles import jpeg

    response = upload(
        member_api,
        "ready.jpg",
        jpeg(1600, 1200, camera=("Canon", "EOS R5"), taken="2024:05:01 10:20:30"),
        tags="sea, summer",
    )
    assert response.status_code == 202, response.content
    return process(alpha, response.json()["id"])
