import pytest
from django_tenants.utils import tenant_context

from apps.images.services.stages import StageResult, stages_record
from tests import imagefiles
from tests.conftest import signed_in
from tests.images.conftest import process, upload


def test_the_gallery_shows_thumbnails_and_filters(alpha, ready_image, member_api):
    browser = signed_in(alpha, "member@alpha.test")

    page = browser.get("/images/").content.decode()
    assert f"/api/v1/images/{ready_image.pk}/thumbnail?spec=medium" in page
    assert "1 image" in page
    assert "No images match" in browser.get("/images/", {"format": "png"}).content.decode()
    assert browser.get("/images/", {"min_width": "wide"}).status_code == 400


def test_the_detail_page_shows_metadata_stages_and_actions(alpha, ready_image):
    browser = signed_in(alpha, "member@alpha.test")

    page = browser.get(f"/images/{ready_image.pk}/").content.decode()

    assert "Canon EOS R5" in page
    assert "1600 \u00d7 1200" in page
    assert 'data-testid="preview"' in page
    assert page.count('class="stage-done"') == 4
    assert 'value="delete"' in page


def test_delete_and_restore_from_the_detail_page(alpha, ready_image):
    browser = signed_in(alpha, "member@alpha.test")

    browser.post(f"/images/{ready_image.pk}/action/", {"action": "delete"})
    assert str(ready_image.pk) in browser.get("/images/trash/").content.decode()
    browser.post(f"/images/{ready_image.pk}/action/", {"action": "restore"})
    assert str(ready_image.pk) not in browser.get("/images/trash/").content.decode()


def test_a_failed_image_shows_its_reason_and_can_be_retried(alpha, member_api):
    image = process(alpha, upload(member_api, "broken.jpg", imagefiles.truncated_jpeg()).json()["id"])
    browser = signed_in(alpha, "member@alpha.test")

    page = browser.get(f"/images/{image.pk}/").content.decode()
    assert "truncated or corrupt" in page
    assert str(image.pk) in browser.get("/images/failed/").content.decode()
    browser.post(f"/images/{image.pk}/action/", {"action": "retry"})
    assert "Processing starts again" in browser.get(f"/images/{image.pk}/").content.decode()


def test_a_viewer_sees_no_upload_page(alpha, users):
    browser = signed_in(alpha, "viewer@alpha.test")

    assert browser.get("/images/upload/").status_code == 403
    assert "/images/upload/" not in browser.get("/images/").content.decode()


def test_the_dashboard_counts_images_and_storage(alpha, ready_image):
    page = signed_in(alpha, "member@alpha.test").get("/").content.decode()

    assert 'href="/images/">1</a>' in page
    assert "of 1.0\xa0GB used" in page


@pytest.mark.parametrize(
    ("index", "detect", "badge"),
    [
        (None, None, 'data-testid="tile-indexing"'),
        ("done", None, 'data-testid="tile-indexing"'),
        ("done", "failed", 'data-testid="tile-stage-failed"'),
        ("done", "done", None),
    ],
)
def test_a_gallery_tile_shows_the_stages_after_processing(alpha, ready_image, index, detect, badge):
    # given the index and detect stages of a ready image
    with tenant_context(alpha):
        stages_record(
            [
                StageResult(image_id=ready_image.pk, stage=stage, state=state)
                for stage, state in (("index", index), ("detect", detect))
                if state is not None
            ]
        )
    # when the gallery is shown
    page = signed_in(alpha, "member@alpha.test").get("/images/").content.decode()
    # then its tile has the badge for them, or none when both are done
    badges = [b for b in ('data-testid="tile-indexing"', 'data-testid="tile-stage-failed"') if b in page]
    assert badges == ([badge] if badge else [])
