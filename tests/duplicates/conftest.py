import io

import pytest
from django_tenants.utils import tenant_context
from PIL import Image as PILImage
from PIL import ImageDraw, ImageOps

from apps.accounts.models import Role
from apps.duplicates.services import image_detect
from tests.api import as_user
from tests.imagefiles import bench_photos
from tests.images.conftest import process, upload


def photo(index: int = 0) -> PILImage.Image:
    with PILImage.open(bench_photos(200)[index]) as img:
        return img.convert("RGB")


def jpeg_bytes(img: PILImage.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_bytes(img: PILImage.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def png_of_jpeg(img: PILImage.Image, quality: int = 85) -> bytes:
    """A PNG made from a JPEG (as a converter makes it): the JPEG's decoded pixels, saved losslessly."""
    with PILImage.open(io.BytesIO(jpeg_bytes(img, quality))) as decoded:
        return png_bytes(decoded.convert("RGB"))


def crop(img: PILImage.Image, share: float) -> PILImage.Image:
    w, h = img.size
    s = share**0.5
    cw, ch = int(w * s), int(h * s)
    left, top = (w - cw) // 3, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def captioned(img: PILImage.Image) -> PILImage.Image:
    img = img.copy()
    ImageDraw.Draw(img).rectangle((10, 10, img.width // 3, 40), fill=(255, 255, 255))
    return img


VARIANTS = {
    "hflip": lambda img: jpeg_bytes(ImageOps.mirror(img)),
    "crop_60": lambda img: jpeg_bytes(crop(img, 0.6)),
    "png": lambda img: png_of_jpeg(img),
    "caption": lambda img: jpeg_bytes(captioned(img), quality=60),
}


@pytest.fixture
def admin_api(users):
    return as_user(users[Role.ADMIN])


@pytest.fixture
def member_api(users):
    return as_user(users[Role.MEMBER])


def ingest(tenant, api, name: str, data: bytes, detect: bool = True):
    """Upload through the API, process through the pipeline, detect; returns the image id."""
    response = upload(api, name, data)
    assert response.status_code == 202, response.content
    image_id = response.json()["id"]
    process(tenant, image_id)
    if detect:
        with tenant_context(tenant):
            image_detect(image_id=image_id)
    return image_id
