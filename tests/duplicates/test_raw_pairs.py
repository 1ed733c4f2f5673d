"""RAW + JPEG of one shot, on real photos: a DNG written from a bench photo's pixels and the JPEG a
camera would write beside it (same camera, same capture second) are one group labelled "RAW + JPEG
of one shot" whose suggested keeper is the RAW, unless the tenant keeps both. JPEG XL and AVIF
copies group with their JPEG like any other format, and a DNG is a search query like any image."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.accounts.models import Role
from apps.duplicates.models import Group, Member, Pair
from apps.duplicates.raw_pairs import RAW_JPEG_LABEL
from apps.duplicates.services.groups import duplicate_settings_get
from apps.images.models import Image
from tests import imagefiles
from tests.api import as_user
from tests.duplicates.conftest import ingest, photo

TAKEN = "2024:05:01 10:11:12"


def camera_jpeg(img: PILImage.Image, *, taken: str = TAKEN, quality: int = 90) -> bytes:
    """The JPEG the camera writes beside its RAW: the same Make/Model and capture time."""
    exif = PILImage.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R5"
    exif[0x8769] = {0x9003: taken}
    return imagefiles.encode(img, "JPEG", quality=quality, exif=exif.tobytes())


def group_of(tenant, image_id) -> Group | None:
    with tenant_context(tenant):
        member = Member.objects.filter(image_id=image_id).select_related("group").first()
        return member.group if member else None


@pytest.mark.parametrize("preview", [True, False], ids=["embedded-preview", "developed"])
def test_raw_and_jpeg_of_one_shot_are_one_group_and_the_raw_is_kept(alpha, admin_api, preview):
    img = photo(5)
    raw_id = ingest(alpha, admin_api, "IMG_0005.DNG", imagefiles.dng(img, preview=preview))
    jpeg_id = ingest(alpha, admin_api, "IMG_0005.JPG", camera_jpeg(img))

    group = group_of(alpha, jpeg_id)

    assert group is not None and group == group_of(alpha, raw_id)
    assert (group.member_count, group.label) == (2, RAW_JPEG_LABEL)
    assert str(group.suggested_keeper_id) == raw_id
    assert group.keeper_reason.startswith("original: the JPEG is ")
    assert "DNG" in group.keeper_reason
    body = admin_api.get(f"duplicates/groups/{group.pk}").json()
    assert (body["label"], body["suggested_keeper"]) == (RAW_JPEG_LABEL, raw_id)


def test_a_later_export_of_the_raw_groups_without_the_one_shot_label(alpha, admin_api):
    img = photo(6)
    raw_id = ingest(alpha, admin_api, "IMG_0006.DNG", imagefiles.dng(img))
    export_id = ingest(alpha, admin_api, "export.jpg", camera_jpeg(img, taken="2024:05:03 18:00:00"))

    group = group_of(alpha, export_id)

    assert group is not None and group == group_of(alpha, raw_id)
    assert group.label == ""
    assert str(group.suggested_keeper_id) == raw_id  # the RAW is still the original


def test_keep_both_takes_pairs_apart_and_they_never_come_back(alpha, admin_api):
    first = photo(7)
    ingest(alpha, admin_api, "A.DNG", imagefiles.dng(first))
    a_jpeg = ingest(alpha, admin_api, "A.JPG", camera_jpeg(first))
    assert group_of(alpha, a_jpeg) is not None

    response = admin_api.patch("duplicates/settings", {"raw_jpeg_pairs": "keep_both"})

    assert response.status_code == 200, response.content
    assert response.json()["raw_jpeg_pairs"] == "keep_both"
    assert group_of(alpha, a_jpeg) is None
    second = photo(8)
    b_raw = ingest(alpha, admin_api, "B.DNG", imagefiles.dng(second))
    b_jpeg = ingest(alpha, admin_api, "B.JPG", camera_jpeg(second))
    assert group_of(alpha, b_jpeg) is None and group_of(alpha, b_raw) is None
    with tenant_context(alpha):
        assert not Pair.objects.filter(
            image_a_id__in=[b_raw, b_jpeg], image_b_id__in=[b_raw, b_jpeg]
        ).exists()
    # Other duplicates are still found.
    png_id = ingest(alpha, admin_api, "B.png", imagefiles.encode(second, "PNG"))
    assert group_of(alpha, png_id) is not None


@pytest.mark.parametrize("value", ["both", "", None])
def test_bad_raw_jpeg_pairs_value_is_refused_and_changes_nothing(alpha, admin_api, value):
    response = admin_api.patch("duplicates/settings", {"raw_jpeg_pairs": value})

    assert response.status_code == 400, response.content
    with tenant_context(alpha):
        assert duplicate_settings_get().raw_jpeg_pairs == "group"


def test_only_admins_change_raw_jpeg_pairs_and_only_in_their_tenant(alpha, beta, users, member_api):
    change = {"raw_jpeg_pairs": "keep_both"}

    assert member_api.patch("duplicates/settings", change).status_code == 403
    assert as_user(users[Role.ADMIN], beta).patch("duplicates/settings", change).status_code == 403
    assert as_user(users["global"], beta).patch("duplicates/settings", change).status_code == 200
    with tenant_context(alpha):
        assert duplicate_settings_get().raw_jpeg_pairs == "group"
    with tenant_context(beta):
        assert duplicate_settings_get().raw_jpeg_pairs == "keep_both"


@pytest.mark.parametrize("maker", [imagefiles.jxl, imagefiles.avif], ids=["jxl", "avif"])
def test_jpeg_xl_and_avif_copies_group_with_their_jpeg_and_are_searchable(alpha, admin_api, maker):
    img = photo(9)
    jpeg_id = ingest(alpha, admin_api, "p.jpg", camera_jpeg(img, quality=95))
    copy_id = ingest(alpha, admin_api, "p.copy", maker(img))

    group = group_of(alpha, copy_id)
    by_upload = admin_api.client.post(
        "/api/v1/search/similarity",
        {"image": SimpleUploadedFile("q", maker(img)), "max_results": "5"},
        **admin_api.headers,
    )
    by_id = admin_api.post("search/similarity", {"image_id": copy_id, "max_results": 5})

    assert group is not None and group == group_of(alpha, jpeg_id)
    assert by_upload.status_code == 200, by_upload.content
    assert {r["image_id"] for r in by_upload.json()["results"][:2]} == {jpeg_id, copy_id}
    assert by_id.json()["results"][0]["image_id"] == jpeg_id


def test_a_dng_is_a_search_query_and_is_found(alpha, admin_api):
    img = photo(10)
    jpeg_id = ingest(alpha, admin_api, "q.jpg", camera_jpeg(img))
    raw_id = ingest(alpha, admin_api, "q.dng", imagefiles.dng(img, preview=False), detect=True)

    by_upload = admin_api.client.post(
        "/api/v1/search/similarity",
        {"image": SimpleUploadedFile("q.dng", imagefiles.dng(img)), "max_results": "5"},
        **admin_api.headers,
    )
    by_id = admin_api.post("search/similarity", {"image_id": raw_id, "max_results": 5})

    assert by_upload.status_code == 200, by_upload.content
    assert {r["image_id"] for r in by_upload.json()["results"][:2]} == {jpeg_id, raw_id}
    assert by_id.status_code == 200, by_id.content
    assert by_id.json()["results"][0]["image_id"] == jpeg_id
    with tenant_context(alpha):
        assert Image.objects.get(pk=raw_id).format == "dng"
