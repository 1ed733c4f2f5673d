"""The image list's one FilterSet (apps/images/filters.py): the API, the gallery pages and the
OpenAPI document read the same query parameters."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.images.models import ImageFormat
from tests import imagefiles
from tests.conftest import signed_in
from tests.images.conftest import process, upload


@pytest.fixture
def three(alpha, member_api):
    """sea.jpg (1200x800; sea, summer), logo.png (300x300; brand), city.jpg (640x480; sea)."""
    made = {}
    for name, data, tags in (
        ("sea.jpg", imagefiles.jpeg(1200, 800), "sea, summer"),
        ("logo.png", imagefiles.png_rgba(300, 300), "brand"),
        ("city.jpg", imagefiles.jpeg(640, 480), "sea"),
    ):
        made[name] = process(alpha, upload(member_api, name, data, tags=tags).json()["id"])
    return made


def names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["filename"] for item in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"format": ["png", "jpeg"], "ordering": "original_filename"}, ["city.jpg", "logo.png", "sea.jpg"]),
        ({"tag": ["sea", "summer"]}, ["sea.jpg"]),
        ({"tag": "sea", "ordering": "-size_bytes"}, ["sea.jpg", "city.jpg"]),
        ({"min_width": "640", "max_width": "640"}, ["city.jpg"]),
        ({"uploaded_after": "2000-01-01T00:00:00Z", "q": "LOGO"}, ["logo.png"]),
        ({"uploaded_before": "2000-01-01T10:00:00+02:00"}, []),
        (
            {"format": "", "tag": "", "q": "", "ordering": "original_filename"},
            ["city.jpg", "logo.png", "sea.jpg"],
        ),
        ({"sha256": "0" * 64}, []),
    ],
)
def test_the_api_filters_and_orders(three, member_api, query, expected):
    assert names(member_api.get("images", query)) == expected


def test_a_bad_filter_is_a_400_naming_each_parameter(three, member_api):
    response = member_api.get(
        "images", {"format": "psd", "min_width": "1.5", "max_bytes": "-1", "sha256": "abc", "ordering": "id"}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_filter"
    assert error["message"] == (
        "These filters are not valid: format, max_bytes, min_width, sha256, ordering. "
        "See detail for what each accepts."
    )
    assert error["detail"] == {
        "format": ["Select a valid choice. psd is not one of the available choices."],
        "min_width": ["Enter a whole number."],
        "max_bytes": ["Ensure this value is greater than or equal to 0."],
        "sha256": ["64 lowercase hexadecimal digits."],
        "ordering": ["Select a valid choice. id is not one of the available choices."],
    }


def test_the_gallery_reads_the_same_filters(alpha, three):
    browser = signed_in(alpha, "member@alpha.test")

    page = browser.get("/images/", {"tag": "sea", "format": "jpeg", "ordering": "original_filename"})

    assert page.status_code == 200
    html = page.content.decode()
    assert "2 images" in html
    assert html.index('title="city.jpg"') < html.index('title="sea.jpg"')
    assert 'title="logo.png"' not in html


@pytest.mark.parametrize("path", ["/images/", "/images/trash/", "/images/failed/"])
def test_a_page_with_a_bad_filter_lists_nothing_and_says_why(alpha, three, path):
    browser = signed_in(alpha, "member@alpha.test")

    response = browser.get(path, {"min_width": "wide", "format": "psd"})

    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="filter-errors"' in html
    assert "<li>Smallest width: Enter a whole number.</li>" in html
    assert "<li>Format: Select a valid choice. psd is not one of the available choices.</li>" in html
    assert 'class="tile"' not in html
    assert "0 images" in html


def test_the_openapi_document_describes_the_filters():
    schema = SchemaGenerator(urlconf="deeplens.urls_schema").get_schema(request=None, public=True)
    for path in ("/api/v1/images", "/api/v1/images/search"):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

        assert parameters["format"]["schema"] == {
            "type": "array",
            "items": {"type": "string", "enum": sorted(ImageFormat.values)},
        }
        assert parameters["format"]["explode"] is True
        assert parameters["tag"]["schema"] == {"type": "array", "items": {"type": "string"}}
        assert parameters["min_width"]["schema"] == {"type": "integer", "minimum": 0}
        assert parameters["uploaded_after"]["schema"] == {"type": "string", "format": "date-time"}
        assert parameters["storage_location"]["schema"] == {"type": "string", "format": "uuid"}
        assert set(parameters) >= {"status", "ordering", "q", "sha256", "limit", "offset", "max_bytes"}
