"""PATCH images/{id} (tags, description, capture date) and POST images/bulk-edit (tag, untag,
trash): by the uploader or an admin, audited with before and after, per tenant."""

from django_tenants.utils import tenant_context

from apps.audit.models import AuditEvent
from apps.images.models import Image
from tests.api import as_user
from tests.imagefiles import jpeg
from tests.images.conftest import process, upload


def _image(tenant, image_id) -> Image:
    with tenant_context(tenant):
        return Image.objects.get(pk=image_id)


def test_the_uploader_edits_tags_description_and_capture_date(alpha, ready_image, member_api):
    response = member_api.patch(
        f"images/{ready_image.pk}",
        {"tags": [" beach ", "sea", "beach"], "description": " At dawn ", "taken_at": "2023-07-01T06:00:00Z"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["tags"], body["description"], body["taken_at"]) == (
        ["beach", "sea"],
        "At dawn",
        "2023-07-01T06:00:00Z",
    )
    image = _image(alpha, ready_image.pk)
    assert (image.tags, image.description, image.taken_at.isoformat()) == (
        ["beach", "sea"],
        "At dawn",
        "2023-07-01T06:00:00+00:00",
    )
    with tenant_context(alpha):
        event = AuditEvent.objects.get(action="image.updated")
    assert event.details["before"] == {
        "tags": ["sea", "summer"],
        "description": "",
        "taken_at": "2024-05-01T10:20:30+00:00",
    }
    assert event.details["after"]["tags"] == ["beach", "sea"]


def test_a_capture_date_set_to_null_is_cleared(alpha, ready_image, member_api):
    assert member_api.patch(f"images/{ready_image.pk}", {"taken_at": None}).status_code == 200

    assert _image(alpha, ready_image.pk).taken_at is None


def test_bad_input_is_a_400_for_its_field_and_changes_nothing(alpha, ready_image, member_api):
    cases = [
        ({"tags": ["x" * 65]}, "tag_invalid"),
        ({"description": "d" * 2001}, "invalid_input"),
        ({"taken_at": "yesterday"}, "invalid_input"),
    ]
    for body, code in cases:
        response = member_api.patch(f"images/{ready_image.pk}", body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == code
    image = _image(alpha, ready_image.pk)
    assert (image.tags, image.description) == (["sea", "summer"], "")
    with tenant_context(alpha):
        assert not AuditEvent.objects.filter(action="image.updated").exists()


def test_another_member_and_a_viewer_may_not_edit_but_an_admin_may(alpha, ready_image, users):
    from tests.factories import UserFactory

    other = UserFactory(tenant=alpha, role="member", email="other@alpha.test")

    assert as_user(other).patch(f"images/{ready_image.pk}", {"tags": ["mine"]}).json()["error"]["code"] == (
        "not_your_image"
    )
    assert as_user(users["viewer"]).patch(f"images/{ready_image.pk}", {"tags": ["mine"]}).status_code == 403
    assert _image(alpha, ready_image.pk).tags == ["sea", "summer"]
    assert as_user(users["admin"]).patch(f"images/{ready_image.pk}", {"tags": ["ok"]}).status_code == 200
    assert _image(alpha, ready_image.pk).tags == ["ok"]


def test_another_tenants_image_is_not_found(alpha, beta, ready_image, users):
    response = as_user(users["beta_member"]).patch(f"images/{ready_image.pk}", {"tags": ["x"]})

    assert response.status_code == 404
    assert _image(alpha, ready_image.pk).tags == ["sea", "summer"]


def test_bulk_tag_untag_and_trash(alpha, ready_image, member_api, users):
    second = upload(member_api, "second.jpg", jpeg(640, 480), tags="sea").json()["id"]
    process(alpha, second)
    ids = [str(ready_image.pk), second]

    tagged = member_api.post("images/bulk-edit", {"ids": ids, "action": "tag", "tags": ["trip"]}).json()
    assert (sorted(tagged["changed"]), tagged["errors"], tagged["missing"]) == (sorted(ids), [], [])
    assert _image(alpha, second).tags == ["sea", "trip"]

    untagged = member_api.post("images/bulk-edit", {"ids": ids, "action": "untag", "tags": ["sea"]}).json()
    assert sorted(untagged["changed"]) == sorted(ids)
    assert (_image(alpha, ready_image.pk).tags, _image(alpha, second).tags) == (["summer", "trip"], ["trip"])

    trashed = member_api.post("images/bulk-edit", {"ids": [second], "action": "delete"}).json()
    assert trashed["changed"] == [second]
    assert _image(alpha, second).deleted_at is not None


def test_bulk_edit_refuses_per_image_and_reports_unknown_ids(alpha, ready_image, users):
    from tests.factories import UserFactory

    other = UserFactory(tenant=alpha, role="member", email="other@alpha.test")
    missing = "00000000-0000-4000-8000-000000000000"

    body = (
        as_user(other)
        .post("images/bulk-edit", {"ids": [str(ready_image.pk), missing], "action": "tag", "tags": ["x"]})
        .json()
    )

    assert body["changed"] == []
    assert [(e["id"], e["code"]) for e in body["errors"]] == [(str(ready_image.pk), "not_your_image")]
    assert body["missing"] == [missing]
    assert _image(alpha, ready_image.pk).tags == ["sea", "summer"]


def test_bulk_edit_validates_action_and_tags(ready_image, member_api):
    unknown = member_api.post("images/bulk-edit", {"ids": [str(ready_image.pk)], "action": "paint"})
    no_tags = member_api.post("images/bulk-edit", {"ids": [str(ready_image.pk)], "action": "tag"})

    assert (unknown.status_code, list(unknown.json()["error"]["detail"])) == (400, ["action"])
    assert (no_tags.status_code, no_tags.json()["error"]["code"]) == (400, "tag_invalid")


def test_the_detail_page_edits_tags_description_and_date_for_the_uploader_only(alpha, ready_image, users):
    from tests.conftest import signed_in

    member = signed_in(alpha, users["member"].email)
    page = member.get(f"/images/{ready_image.pk}/")
    assert 'data-testid="edit-image"' in page.content.decode()

    saved = member.post(
        f"/images/{ready_image.pk}/action/",
        {
            "action": "edit",
            "tags": "dawn, sea ,",
            "description": "First light",
            "taken_at": "2022-03-04T05:06",
        },
        follow=True,
    )

    assert "is saved" in saved.content.decode()
    image = _image(alpha, ready_image.pk)
    assert (image.tags, image.description, image.taken_at.isoformat()) == (
        ["dawn", "sea"],
        "First light",
        "2022-03-04T05:06:00+00:00",
    )
    viewer = signed_in(alpha, users["viewer"].email)
    assert 'data-testid="edit-image"' not in viewer.get(f"/images/{ready_image.pk}/").content.decode()
    refused = viewer.post(f"/images/{ready_image.pk}/action/", {"action": "edit", "tags": "x"}, follow=True)
    assert "msg-error" in refused.content.decode()
    bad_date = member.post(
        f"/images/{ready_image.pk}/action/", {"action": "edit", "taken_at": "soon"}, follow=True
    )
    assert "is not a date and time" in bad_date.content.decode()
    assert _image(alpha, ready_image.pk).tags == ["dawn", "sea"]
