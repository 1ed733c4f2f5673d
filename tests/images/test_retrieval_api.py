import pytest

from apps.accounts.models import Role
from tests import imagefiles
from tests.api import as_user
from tests.images.conftest import process, upload


@pytest.fixture
def library(alpha, member_api):
    """Three processed images of different formats, sizes and tags."""
    made = {}
    for name, data, tags in (
        ("sea.jpg", imagefiles.jpeg(1200, 800), "sea"),
        ("logo.png", imagefiles.png_rgba(300, 300), "brand"),
        ("city.webp", imagefiles.FORMAT_BYTES["webp"](), "city, sea"),
    ):
        made[name] = process(alpha, upload(member_api, name, data, tags=tags).json()["id"])
    return made


def ids(response) -> set[str]:
    return {item["id"] for item in response.json()["results"]}


def test_the_list_is_paginated_newest_first(library, member_api):
    response = member_api.get("images", {"limit": 2})

    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["results"][0]["filename"] == "city.webp"
    assert body["next"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"format": "png"}, {"logo.png"}),
        ({"tag": "sea"}, {"sea.jpg", "city.webp"}),
        ({"min_width": 1000}, {"sea.jpg"}),
        ({"max_height": 300}, {"logo.png", "city.webp"}),
        ({"q": "LOGO"}, {"logo.png"}),
        ({"status": "ready"}, {"sea.jpg", "logo.png", "city.webp"}),
        ({"uploaded_after": "2000-01-01"}, {"sea.jpg", "logo.png", "city.webp"}),
        ({"uploaded_before": "2000-01-01"}, set()),
    ],
)
def test_filters(library, member_api, filters, expected):
    names = {item["filename"] for item in member_api.get("images", filters).json()["results"]}
    search = {item["filename"] for item in member_api.get("images/search", filters).json()["results"]}

    assert names == search == expected


def test_bad_filters_are_explained(library, member_api):
    response = member_api.get("images", {"format": "psd", "min_width": "wide"})

    assert response.status_code == 400
    assert set(response.json()["error"]["detail"]) == {"format", "min_width"}


def test_one_image_with_its_thumbnails_and_hashes(library, member_api):
    image = library["sea.jpg"]

    body = member_api.get(f"images/{image.pk}").json()

    assert body["filename"] == "sea.jpg"
    assert body["hashes"]["phash"] and len(body["hashes"]["phash"]) == 16
    assert [t["spec"] for t in body["thumbnails"]] == ["small", "medium", "large"]
    assert body["urls"]["download"] == f"/api/v1/images/{image.pk}/download"


def test_metadata(library, member_api, ready_image):
    body = member_api.get(f"images/{ready_image.pk}/metadata").json()

    assert body["camera"] == "Canon EOS R5"
    assert body["exif"]["make"] == "Canon"
    assert body["width"] == 1600


def test_download_streams_the_original_with_a_safe_name(alpha, member_api):
    data = imagefiles.jpeg(200, 100)
    image_id = upload(member_api, 'we"ird\nname.jpg', data).json()["id"]

    response = member_api.get(f"images/{image_id}/download")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/jpeg"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "\n" not in disposition
    assert response["X-Content-Type-Options"] == "nosniff"


def test_bulk_returns_found_and_missing(library, member_api):
    missing = "00000000-0000-0000-0000-000000000001"
    wanted = [str(library["logo.png"].pk), missing, str(library["sea.jpg"].pk)]

    body = member_api.post("images/bulk", {"ids": wanted}).json()

    assert [item["filename"] for item in body["results"]] == ["logo.png", "sea.jpg"]
    assert body["missing"] == [missing]


def test_another_tenants_image_is_not_found(library, users, beta):
    image = library["sea.jpg"]
    beta_api = as_user(users["beta_member"])

    assert beta_api.get(f"images/{image.pk}").status_code == 404
    assert beta_api.get(f"images/{image.pk}/download").status_code == 404
    assert beta_api.get(f"images/{image.pk}/thumbnail", {"spec": "small"}).status_code == 404
    assert beta_api.get("images").json()["count"] == 0


def test_a_viewer_may_look_but_not_upload(library, users):
    viewer = as_user(users[Role.VIEWER])

    assert viewer.get("images").json()["count"] == 3
    assert upload(viewer, "x.jpg", imagefiles.jpeg(64, 64)).status_code == 403
