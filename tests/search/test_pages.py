"""The search page, server-rendered, on the committed search tenants."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.models import Image
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


def _token(html: str) -> str:
    match = re.search(r'name="query" value="([^"]+)"', html)
    assert match, html[-2000:]
    return match.group(1)


def test_a_dropped_image_is_kept_while_the_options_change(search_world, delta_viewer):
    delta = search_world["delta"]
    original = search_world["originals"][1]
    dropped = delta_viewer.post(
        "/search/", {"image": SimpleUploadedFile("q.jpg", (BENCH_IMAGES / original).read_bytes())}
    )
    token = _token(dropped.content.decode())

    again = delta_viewer.post("/search/", {"query": token, "min_confidence": "0", "sort": "-date"})
    preview = delta_viewer.get(f"/search/query/{token}")

    html = again.content.decode()
    assert again.status_code == 200
    assert _token(html) == token
    assert 'data-testid="query-image"' in html
    assert f"/images/{delta.ids[original]}/" in html
    assert 'data-match="identical"' in html  # the same bytes as the stored original
    assert re.search(r"\d+ shown of \d+", html)
    assert (preview.status_code, preview["Content-Type"]) == (200, "image/jpeg")
    with tenant_context(delta.tenant):
        assert Image.objects.filter(pk__in=list(delta.ids.values())).count() == len(delta.ids)
        assert Image.objects.count() == len(delta.ids)  # the query was not stored as an image


def test_a_kept_query_is_its_users_alone(search_world, delta_viewer):
    delta = search_world["delta"]
    dropped = delta_viewer.post(
        "/search/",
        {"image": SimpleUploadedFile("q.jpg", (BENCH_IMAGES / search_world["originals"][0]).read_bytes())},
    )
    token = _token(dropped.content.decode())
    member = signed_in(delta.tenant, delta.emails[Role.MEMBER])
    gamma = search_world["gamma"]
    other_tenant = signed_in(gamma.tenant, gamma.emails[Role.VIEWER])

    assert member.get(f"/search/query/{token}").status_code == 404
    assert other_tenant.get(f"/search/query/{token}").status_code == 404
    expired = member.post("/search/", {"query": token})
    assert expired.status_code == 410
    assert "no longer kept" in expired.content.decode()


def test_verified_matches_are_marked(search_world):
    gamma = search_world["gamma"]
    viewer = signed_in(gamma.tenant, gamma.emails[Role.VIEWER])
    original, copies = next(iter(search_world["copies"].items()))

    html = viewer.get(f"/search/?image_id={gamma.ids[copies[0][0]]}").content.decode()

    at = html.index(f"/images/{gamma.ids[original]}/")
    tile = html[html.rindex("<a ", 0, at) : html.index(">", at)]
    assert 'data-match="same_picture"' in tile
    assert "same picture" in html
    assert 'data-testid="verified-count"' in html
