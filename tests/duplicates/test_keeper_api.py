"""The keeper through the product: the policy API (tenant admins, audited, bad input changes
nothing, tenants apart; a change re-ranks the open groups at once, resolved ones keep their
keeper), the keeper of a real group, and the metadata merge on resolve."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.duplicates.keeper import CRITERIA
from apps.duplicates.models import DuplicateSettings, Group, GroupStatus
from apps.images.models import Image, ImageSettings
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests.api import as_user
from tests.duplicates.conftest import ingest, jpeg_bytes, photo
from tests.duplicates.test_keeper import png_of, with_exif


def test_the_policy_reads_in_the_default_order(admin_api):
    body = admin_api.get("duplicates/settings").json()
    assert body["keeper_criteria"] == CRITERIA
    assert body["format_priority"] == ["heic", "tiff", "png", "webp", "jpeg", "gif", "bmp"]
    assert body["keeper_criteria_labels"]["original"] == "Original over copies made from it"


def test_an_admin_reorders_the_criteria_and_the_change_is_audited(alpha, admin_api):
    response = admin_api.patch("duplicates/settings", {"keeper_criteria": ["format", "original"]})
    assert response.status_code == 200, response.content
    expected = ["format", "original", "resolution", "metadata", "earliest", "location", "size"]
    assert response.json()["keeper_criteria"] == expected
    with tenant_context(alpha):
        assert DuplicateSettings.objects.get().keeper_criteria == expected
        event = AuditEvent.objects.get(action="duplicates.settings_changed")
        assert event.details == {
            "before": {"keeper_criteria": CRITERIA},
            "after": {"keeper_criteria": expected},
        }


@pytest.mark.parametrize(
    "body",
    [
        {"keeper_criteria": ["filename"]},
        {"keeper_criteria": ["size", "size"]},
        {"format_priority": ["svg"]},
        {"format_priority": "png"},
    ],
)
def test_bad_policy_input_gets_a_400_and_changes_nothing(alpha, admin_api, body):
    admin_api.get("duplicates/settings")
    response = admin_api.patch("duplicates/settings", body)
    assert response.status_code == 400, response.content
    with tenant_context(alpha):
        policy = DuplicateSettings.objects.get()
        assert policy.keeper_criteria == CRITERIA
        assert policy.format_priority == ["heic", "tiff", "png", "webp", "jpeg", "gif", "bmp"]
        assert not AuditEvent.objects.filter(action="duplicates.settings_changed").exists()
        assert not Job.objects.exists()  # nothing re-ranked either


def test_members_cannot_change_the_policy_and_other_tenants_do_not_share_it(alpha, beta, users, admin_api):
    assert (
        as_user(users[Role.MEMBER]).patch("duplicates/settings", {"format_priority": ["jpeg"]}).status_code
        == 403
    )
    assert admin_api.patch("duplicates/settings", {"format_priority": ["jpeg"]}).status_code == 200
    beta_admin = as_user(users["global"], beta)
    assert beta_admin.get("duplicates/settings").json()["format_priority"][0] == "heic"
    alpha_token_on_beta = as_user(users[Role.ADMIN], beta)
    assert alpha_token_on_beta.get("duplicates/settings").status_code == 403
    assert alpha_token_on_beta.patch("duplicates/settings", {"format_priority": ["png"]}).status_code == 403
    with tenant_context(beta):
        assert DuplicateSettings.objects.get().format_priority[0] == "heic"


@pytest.fixture
def pair(alpha, member_api):
    """A PNG made from a JPEG uploaded first, then the JPEG original carrying camera, date and GPS."""
    original = with_exif(photo(3))
    png = ingest(alpha, member_api, "a.png", png_of(original))
    jpeg = ingest(alpha, member_api, "b.jpg", original)
    with tenant_context(alpha):
        group = Group.objects.get(status=GroupStatus.OPEN)
    return group, png, jpeg


def _keeper(api, group_id) -> tuple[str, str]:
    body = api.get(f"duplicates/groups/{group_id}").json()
    return body["suggested_keeper"], body["keeper_reason"]


def test_the_group_keeps_the_jpeg_original_over_its_png(alpha, pair, admin_api):
    group, _png, jpeg = pair
    body = admin_api.get(f"duplicates/groups/{group.pk}").json()
    assert [m["image_id"] for m in body["members"] if m["suggested_keeper"]] == [jpeg]
    assert body["keeper_reason"] == "original: the PNG is a conversion of this JPEG"


def test_a_policy_change_re_ranks_the_open_groups_at_once_and_leaves_resolved_ones(
    alpha, pair, member_api, admin_api
):
    group, png, jpeg = pair
    img = photo(5)
    other_jpeg = ingest(alpha, member_api, "c.jpg", jpeg_bytes(img, quality=92))
    other_png = ingest(alpha, member_api, "d.png", png_of(jpeg_bytes(img, quality=92)))
    with tenant_context(alpha):
        resolved = Group.objects.get(members__image_id=other_jpeg)
    assert _keeper(admin_api, resolved.pk) == (other_jpeg, "original: the PNG is a conversion of this JPEG")
    kept = admin_api.post(f"duplicates/groups/{resolved.pk}/resolve", {"keep": [other_png]})
    assert kept.status_code == 200, kept.content
    # resolving keeps what was suggested and why (the person kept the other one)
    assert (kept.json()["suggested_keeper"], kept.json()["keeper_reason"]) == (
        other_jpeg,
        "original: the PNG is a conversion of this JPEG",
    )

    response = admin_api.patch("duplicates/settings", {"keeper_criteria": ["format"]})

    assert response.status_code == 200, response.content
    rerank = response.json()["rerank"]
    assert (rerank["kind"], rerank["state"], rerank["total"], rerank["processed"]) == (
        "duplicates_rerank",
        "done",
        1,
        1,
    )
    # no refresh, no detection: the open group's suggestion follows the policy now
    assert _keeper(admin_api, group.pk) == (png, "preferred format (PNG)")
    # the resolved group keeps the keeper and reason it was resolved with
    assert _keeper(admin_api, resolved.pk) == (other_jpeg, "original: the PNG is a conversion of this JPEG")
    with tenant_context(alpha):
        assert Group.objects.get(pk=resolved.pk).status == GroupStatus.RESOLVED

    again = admin_api.patch("duplicates/settings", {"format_priority": ["jpeg", "png"]})

    assert again.json()["rerank"]["state"] == "done"
    assert _keeper(admin_api, group.pk) == (jpeg, "preferred format (JPEG)")
    # the default order again: the original
    admin_api.patch("duplicates/settings", {"keeper_criteria": CRITERIA})
    assert _keeper(admin_api, group.pk) == (jpeg, "original: the PNG is a conversion of this JPEG")


def test_many_open_groups_are_re_ranked_by_a_job_that_stops_when_the_policy_changes_again(
    alpha, pair, admin_api, monkeypatch
):
    group, png, jpeg = pair
    monkeypatch.setattr("apps.duplicates.services.policy.RERANK_AT_ONCE", 0)

    first = admin_api.patch("duplicates/settings", {"keeper_criteria": ["format"]}).json()["rerank"]
    second = admin_api.patch("duplicates/settings", {"keeper_criteria": ["size"]}).json()["rerank"]

    assert (first["state"], second["state"]) == ("queued", "queued")
    assert _keeper(admin_api, group.pk)[0] == jpeg  # not yet: the job does it
    with tenant_context(alpha):
        superseded = job_run(job_id=first["id"])
        assert (superseded.state, superseded.processed) == ("done", 0)  # the newer job covers it
        assert Group.objects.get(pk=group.pk).keeper_reason.startswith("original")
        done = job_run(job_id=second["id"])
        assert (done.state, done.total, done.processed) == ("done", 1, 1)
    assert _keeper(admin_api, group.pk) == (png, "largest file")
    assert admin_api.get(f"duplicates/jobs/{second['id']}").json()["progress"] == 1.0


@pytest.mark.parametrize("keep_gps", [True, False])
def test_resolving_merges_what_the_keeper_lacks_and_audits_it(alpha, pair, admin_api, keep_gps):
    group, png, jpeg = pair
    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"keep_gps": keep_gps})
        Image.objects.filter(pk=jpeg).update(tags=["holiday", "berlin"])
        Image.objects.filter(pk=png).update(tags=["berlin", "edited"])
        source = Image.objects.get(pk=jpeg)
    response = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [png]})
    assert response.status_code == 200, response.content
    with tenant_context(alpha):
        keeper = Image.objects.get(pk=png)
        assert keeper.taken_at == source.taken_at is not None
        assert keeper.camera == source.camera == "Canon EOS 5D"
        assert keeper.exif.get("gps") == ({"lat": 52.5, "lon": 13.4} if keep_gps else None)
        assert keeper.tags == ["berlin", "edited", "holiday"]
        event = AuditEvent.objects.get(action="duplicates.metadata_merged")
        fields = ["camera", "tags", "taken_at", *(["gps"] if keep_gps else [])]
        assert event.details == {"group": str(group.pk), "fields": sorted(fields), "from": [jpeg]}
        assert event.target_id == png


def test_a_keeper_that_has_everything_is_left_alone(alpha, pair, admin_api):
    group, png, jpeg = pair
    with tenant_context(alpha):
        before = Image.objects.get(pk=jpeg)
    assert admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [jpeg]}).status_code == 200
    with tenant_context(alpha):
        after = Image.objects.get(pk=jpeg)
        assert (after.exif, after.taken_at, after.camera, after.tags) == (
            before.exif,
            before.taken_at,
            before.camera,
            before.tags,
        )
        assert not AuditEvent.objects.filter(action="duplicates.metadata_merged").exists()
    assert png


def test_the_openapi_document_describes_the_settings():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(urlconf="deeplens.urls_schema").get_schema(request=None, public=True)
    operations = schema["paths"]["/api/v1/duplicates/settings"]
    assert set(operations) >= {"get", "patch"}
    output = schema["components"]["schemas"]["SettingsOutput"]["properties"]
    enum = output["keeper_criteria"]["items"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][enum]["enum"] == CRITERIA
