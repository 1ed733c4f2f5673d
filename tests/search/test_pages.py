"""The search page, server-rendered, on the committed search tenants."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Role
from tests.conftest import signed_in, tenant_client
from tests.imagefiles import BENCH_IMAGES

pytestmark = pytest.mark.django_db


@pytest.fixture
def delta_viewer(search_world):
    delta = search_world["delta"]
    return signed_in(delta.tenant, delta.emails[Role.VIEWER])


def test_similar_to_an_image_shows_results_with_scores(search_world, delta_viewer):
    delta = search_world["delta"]
    query = delta.ids[search_world["originals"][0]]

    response = delta_viewer.get(f"/search/?image_id={query}&min_confidence=0")

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="result"' in html
    assert f"/images/{delta.ids[search_world['originals'][1]]}/" in html
    assert 'data-testid="score"' in html
    assert "Text search needs CLIP." in html


def test_a_dropped_image_is_searched(search_world, delta_viewer):
    delta = search_world["delta"]
    original = search_world["originals"][1]

    response = delta_viewer.post(
        "/search/", {"image": SimpleUploadedFile("q.jpg", (BENCH_IMAGES / original).read_bytes())}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(f"/images/{delta.ids[original]}/") < html.index("</section>")


def test_bad_input_is_shown_not_raised(search_world, delta_viewer):
    response = delta_viewer.get("/search/?image_id=00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert "No such image in this workspace." in response.content.decode()


def test_viewers_see_no_switches_and_cannot_switch_models(search_world, delta_viewer):
    page = delta_viewer.get("/search/").content.decode()
    response = delta_viewer.post("/search/", {"action": "activate", "model_key": "clip"}, follow=True)

    assert "Switch on" not in page
    assert "Only tenant admins switch search models on or off." in response.content.decode()


def test_anonymous_visitors_are_sent_to_sign_in(search_world):
    response = tenant_client(search_world["delta"].tenant).get("/search/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
