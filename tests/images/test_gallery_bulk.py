"""The gallery's bulk bar: what it offers to each role, and its server-rendered POSTs: tag and
untag (/images/bulk/), move to a location (/settings/storage/move/), each saying what happened in
the success or error message style."""

import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.models import Image
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests.conftest import signed_in
from tests.storage.helpers import fs_location, images_at

MOVE_PAGE = "/settings/storage/move/"


def messages_of(html: str) -> list[tuple[str, str]]:
    """(style, text) of each message on the page."""
    return [
        (style, re.sub(r"\s+", " ", text).strip())
        for style, text in re.findall(r'<li class="msg-(\w+)">(.*?)</li>', html, flags=re.S)
    ]


def tags_of(tenant, images) -> dict[str, list[str]]:
    with tenant_context(tenant):
        rows = Image.objects.filter(pk__in=[i.pk for i in images]).values_list("original_filename", "tags")
        return dict(rows)


@pytest.fixture
def disk(alpha, tmp_path):
    """A second writable location holding three images, and an index-only one."""
    with tenant_context(alpha):
        location = fs_location("old disk", tmp_path / "disk")
        fs_location("indexed", tmp_path / "ro", index_only=True)
        return location, images_at(location, tenant_slug="alpha", count=3, thumbnails=0)


@pytest.mark.parametrize(
    ("role", "bar", "tag", "move"),
    [
        (Role.VIEWER, False, False, False),
        (Role.MEMBER, True, True, False),
        (Role.ADMIN, True, True, True),
        (Role.OWNER, True, True, True),
    ],
)
def test_the_bulk_bar_offers_what_the_role_may_do(alpha, users, disk, role, bar, tag, move):
    html = signed_in(alpha, users[role].email).get("/images/").content.decode()

    assert ('data-testid="bulk-bar"' in html) is bar
    assert ('data-testid="trash-selected"' in html) is bar
    assert ('data-testid="tag-selected"' in html and 'data-testid="untag-selected"' in html) is tag
    assert ('data-testid="move-selected"' in html) is move
    if move:
        offered = re.findall(r'<option value="[0-9a-f-]+">([^<]+)</option>', html)
        assert offered == ["Local files", "old disk"]  # writable ones only, the default first


def test_the_trash_and_failed_pages_offer_no_move(alpha, users, disk):
    admin = signed_in(alpha, users[Role.ADMIN].email)

    trash, failed = (
        admin.get("/images/trash/").content.decode(),
        admin.get("/images/failed/").content.decode(),
    )

    assert 'data-testid="move-selected"' not in trash and 'data-testid="tag-selected"' not in trash
    assert 'data-testid="move-selected"' not in failed and 'data-testid="tag-selected"' in failed


def test_one_writable_location_offers_nowhere_to_move(alpha, users):
    html = signed_in(alpha, users[Role.ADMIN].email).get("/images/").content.decode()

    assert 'data-testid="bulk-bar"' in html and 'data-testid="move-selected"' not in html


def test_selected_images_are_tagged_and_untagged(alpha, users, disk):
    _location, (first, second, third) = disk
    admin = signed_in(alpha, users[Role.ADMIN].email)
    ids = [str(first.pk), str(second.pk)]

    tagged = admin.post(
        "/images/bulk/", {"action": "tag", "ids": ids, "tags": "sea, summer ,", "next": "/images/?q=x"}
    )
    after_tag = tags_of(alpha, [first, second, third])
    told = messages_of(admin.get("/images/").content.decode())
    untagged = admin.post("/images/bulk/", {"action": "untag", "ids": ids, "tags": "sea"}, follow=True)

    assert (tagged.status_code, tagged["Location"]) == (302, "/images/?q=x")
    assert told == [("success", "2 images tagged sea, summer.")]
    assert after_tag == {
        "photo-0.jpg": ["sea", "summer"],
        "photo-1.jpg": ["sea", "summer"],
        "photo-2.jpg": [],
    }
    assert messages_of(untagged.content.decode()) == [("success", "2 images untagged sea.")]
    assert tags_of(alpha, [first, second, third]) == {
        "photo-0.jpg": ["summer"],
        "photo-1.jpg": ["summer"],
        "photo-2.jpg": [],
    }


@pytest.mark.parametrize(
    ("post", "message"),
    [
        ({"action": "tag", "tags": " , "}, "Give the tags to add or remove."),
        ({"action": "tag", "tags": "x" * 65}, "A tag is at most 64 characters."),
        ({"action": "untag", "tags": "sea", "ids": []}, "Select the images first."),
        ({"action": "retag", "tags": "sea"}, "Unknown action."),
    ],
)
def test_bad_tagging_is_an_error_message_and_changes_nothing(alpha, users, disk, post, message):
    _location, images = disk
    admin = signed_in(alpha, users[Role.ADMIN].email)

    response = admin.post("/images/bulk/", {"ids": [str(i.pk) for i in images], **post}, follow=True)

    assert response.status_code == 200
    assert messages_of(response.content.decode()) == [("error", message)]
    assert tags_of(alpha, images) == {"photo-0.jpg": [], "photo-1.jpg": [], "photo-2.jpg": []}


def test_a_member_tags_their_own_images_and_is_told_about_the_others(alpha, users, disk):
    _location, (mine, theirs, _third) = disk
    with tenant_context(alpha):
        Image.objects.filter(pk=mine.pk).update(uploaded_by=users[Role.MEMBER])
    member = signed_in(alpha, users[Role.MEMBER].email)

    response = member.post(
        "/images/bulk/", {"action": "tag", "ids": [str(mine.pk), str(theirs.pk)], "tags": "sea"}, follow=True
    )

    assert messages_of(response.content.decode()) == [
        ("success", "1 image tagged sea."),
        ("error", "1 not changed — photo-1.jpg: Members can edit only the images they uploaded."),
    ]
    assert tags_of(alpha, [mine, theirs]) == {"photo-0.jpg": ["sea"], "photo-1.jpg": []}


def test_selected_images_move_to_the_chosen_location(alpha, users, disk, tmp_path):
    location, (first, second, trashed) = disk
    with tenant_context(alpha):
        target = fs_location("archive", tmp_path / "archive")
        Image.objects.filter(pk=trashed.pk).update(deleted_at=timezone.now())
    admin = signed_in(alpha, users[Role.ADMIN].email)

    response = admin.post(
        MOVE_PAGE,
        {
            "ids": [str(first.pk), str(second.pk), str(trashed.pk)],
            "target_id": str(target.pk),
            "next": "/images/?page=1",
        },
    )
    html = admin.get("/images/").content.decode()
    with tenant_context(alpha):
        job = Job.objects.get(kind="storage_migrate")
        job_run(job_id=job.pk)
        where = dict(
            Image.objects.filter(storage_location__in=[location, target]).values_list(
                "pk", "storage_location"
            )
        )

    assert (response.status_code, response["Location"]) == (302, "/images/?page=1")
    assert messages_of(html) == [
        ("success", "Moving 2 images to archive; the progress is under Settings → Storage (1 job)."),
        ("error", "1 image not moved — photo-2.jpg: It is in the trash."),
    ]
    assert (job.params["location_id"], job.params["target_id"]) == (str(location.pk), str(target.pk))
    assert where == {first.pk: target.pk, second.pk: target.pk, trashed.pk: location.pk}


def test_images_already_there_are_told_so(alpha, users, disk):
    location, (first, _second, _third) = disk
    admin = signed_in(alpha, users[Role.ADMIN].email)

    response = admin.post(MOVE_PAGE, {"ids": [str(first.pk)], "target_id": str(location.pk)}, follow=True)

    assert messages_of(response.content.decode()) == [("info", "1 image already in old disk.")]
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_migrate").exists()


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("00000000-0000-0000-0000-000000000007", "No such storage location in this workspace."),
        ("indexed", "indexed is index-only: DeepLens never writes there."),
        ("", "No such storage location in this workspace."),
    ],
)
def test_a_bad_target_is_an_error_message_and_moves_nothing(alpha, users, disk, target, message):
    _location, images = disk
    with tenant_context(alpha):
        from apps.storage.models import StorageLocation

        names = {row.name: str(row.pk) for row in StorageLocation.objects.all()}
    admin = signed_in(alpha, users[Role.ADMIN].email)

    response = admin.post(
        MOVE_PAGE, {"ids": [str(i.pk) for i in images], "target_id": names.get(target, target)}, follow=True
    )

    assert response.status_code == 200 and response.redirect_chain[-1][0] == "/images/"
    assert messages_of(response.content.decode()) == [("error", message)]
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_migrate").exists()


def test_no_selection_is_an_error_message(alpha, users, disk):
    location, _images = disk
    admin = signed_in(alpha, users[Role.ADMIN].email)

    response = admin.post(MOVE_PAGE, {"target_id": str(location.pk)}, follow=True)

    assert messages_of(response.content.decode()) == [("error", "Select the images to move.")]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_storage_managers_move_from_the_gallery(alpha, users, disk, tmp_path, role):
    _location, images = disk
    with tenant_context(alpha):
        target = fs_location("archive", tmp_path / "archive")

    response = signed_in(alpha, users[role].email).post(
        MOVE_PAGE, {"ids": [str(i.pk) for i in images], "target_id": str(target.pk)}
    )

    assert response.status_code == 403
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_migrate").exists()


def test_an_outside_next_address_goes_back_to_the_gallery(alpha, users, disk):
    location, (first, *_rest) = disk
    admin = signed_in(alpha, users[Role.ADMIN].email)

    moved = admin.post(
        MOVE_PAGE, {"ids": [str(first.pk)], "target_id": str(location.pk), "next": "https://evil.test/"}
    )
    tagged = admin.post(
        "/images/bulk/", {"action": "tag", "ids": [str(first.pk)], "tags": "a", "next": "https://evil.test/"}
    )

    assert moved["Location"] == "/images/" and tagged["Location"] == "/images/"


def test_another_workspaces_images_are_not_found(alpha, beta, users, tmp_path):
    with tenant_context(beta):
        beta_disk = fs_location("beta disk", tmp_path / "beta")
        (theirs,) = images_at(beta_disk, tenant_slug="beta", count=1, thumbnails=0)
    with tenant_context(alpha):
        target = fs_location("archive", tmp_path / "archive")
    admin = signed_in(alpha, users[Role.ADMIN].email)

    moved = admin.post(MOVE_PAGE, {"ids": [str(theirs.pk)], "target_id": str(target.pk)}, follow=True)
    tagged = admin.post("/images/bulk/", {"action": "tag", "ids": [str(theirs.pk)], "tags": "x"}, follow=True)

    assert messages_of(moved.content.decode()) == [
        ("error", f"1 image not moved — {theirs.pk}: No such image in this workspace.")
    ]
    assert messages_of(tagged.content.decode()) == [("error", "Select the images first.")]
    with tenant_context(beta):
        assert Image.objects.get(pk=theirs.pk).tags == []
        assert Image.objects.get(pk=theirs.pk).storage_location_id == beta_disk.pk
