"""The review and report pages, server-rendered: groups side by side, keep / not duplicates, bulk
preview, the storage chart; roles and tenants."""

from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.duplicates.models import Group, GroupStatus
from apps.images.models import Image
from apps.jobs.models import Job
from tests.conftest import signed_in
from tests.duplicates.conftest import VARIANTS, ingest, jpeg_bytes, photo
from tests.duplicates.test_keeper import with_exif


def make_group(alpha, member_api):
    img = photo(4)
    ids = [
        ingest(alpha, member_api, "one.jpg", jpeg_bytes(img)),
        ingest(alpha, member_api, "two.png", VARIANTS["png"](img)),
    ]
    with tenant_context(alpha):
        return Group.objects.get(status=GroupStatus.OPEN), ids


def test_the_review_page_shows_groups_side_by_side_with_the_keeper(alpha, users, member_api):
    _group, _ids = make_group(alpha, member_api)
    client = signed_in(alpha, users[Role.ADMIN].email)
    page = client.get("/duplicates/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="member"') == 2
    assert "Suggested: original: the PNG is a conversion of this JPEG" in html
    preview = client.get("/duplicates/?preview=1").content.decode()
    assert 'data-testid="bulk-preview"' in preview and "Nothing has changed yet" in preview


def test_the_card_shows_which_members_carry_exif_and_gps(alpha, users, member_api):
    img = photo(5)
    ingest(alpha, member_api, "plain.png", VARIANTS["png"](img))
    ingest(alpha, member_api, "camera.jpg", with_exif(img))
    html = signed_in(alpha, users[Role.ADMIN].email).get("/duplicates/").content.decode()
    assert html.count('data-testid="exif-badge"') == 1
    assert html.count('data-testid="gps-badge"') == 1
    assert html.count('data-testid="no-exif-badge"') == 1
    assert 'title="GPS 52.5, 13.4"' in html


def test_keep_from_the_page_trashes_the_other(alpha, users, member_api):
    group, ids = make_group(alpha, member_api)
    client = signed_in(alpha, users[Role.ADMIN].email)
    response = client.post(f"/duplicates/{group.pk}/action/", {"action": "resolve", "keep": [ids[0]]})
    assert response.status_code == 302
    with tenant_context(alpha):
        assert [
            str(i) for i in Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)
        ] == [ids[1]]


def test_not_duplicates_from_the_page(alpha, users, member_api):
    group, _ids = make_group(alpha, member_api)
    client = signed_in(alpha, users[Role.ADMIN].email)
    client.post(f"/duplicates/{group.pk}/action/", {"action": "dismiss"})
    with tenant_context(alpha):
        assert Group.objects.get(pk=group.pk).status == GroupStatus.DISMISSED
    assert 'data-testid="no-groups"' in client.get("/duplicates/").content.decode()


def test_bulk_resolve_from_the_page_starts_a_job(alpha, users, member_api):
    make_group(alpha, member_api)
    client = signed_in(alpha, users[Role.ADMIN].email)
    client.post("/duplicates/bulk/", {"action": "resolve_all", "kind": "near"})
    with tenant_context(alpha):
        assert Job.objects.get().kind == "duplicates_resolve_all"


def test_the_report_page_charts_the_bytes(alpha, users, member_api):
    _group, _ids = make_group(alpha, member_api)
    client = signed_in(alpha, users[Role.VIEWER].email)
    html = client.get("/duplicates/report/").content.decode()
    assert 'data-testid="by-kind"' in html and "Local files" in html


def test_viewers_cannot_act_and_other_tenants_see_nothing(alpha, beta, users, member_api):
    group, _ids = make_group(alpha, member_api)
    viewer = signed_in(alpha, users[Role.VIEWER].email)
    assert viewer.post(f"/duplicates/{group.pk}/action/", {"action": "dismiss"}).status_code == 403
    assert viewer.post("/duplicates/bulk/", {"action": "rescan"}).status_code == 403
    with tenant_context(alpha):
        assert Group.objects.get(pk=group.pk).status == GroupStatus.OPEN
    other = signed_in(beta, users["beta_member"].email)
    assert 'data-testid="no-groups"' in other.get("/duplicates/").content.decode()
