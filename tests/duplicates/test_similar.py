"""Similar grouping: images whose embeddings by the active model (here the tests' own tiny CLIP,
saved to DEEPLENS_CLIP_CHECKPOINT) are at least the threshold alike form groups of kind "similar",
apart from exact and near groups. Most tests store chosen vectors of the model's dimensions (so the
similarities are exact); one embeds real pictures with the tiny model through the embed stage."""

import math

import numpy as np
import pytest
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.duplicates.models import DuplicateSettings, Group, GroupStatus, Kind, Member
from apps.duplicates.services import image_detect
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.search.services.embedding import embeddings_record, embeddings_stored, images_embed
from tests.api import as_user
from tests.conftest import signed_in
from tests.duplicates.conftest import ingest, jpeg_bytes, photo
from tests.factories import UserFactory
from tests.support.clip_model import clip_switch_on, tiny_clip_model  # noqa: F401 - a fixture
from tests.workspace.test_pages import _form as settings_form

DIM = 32  # the tiny model's embedding size
REGROUP = "duplicates_similar_regroup"


def unit(axis: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[axis] = 1.0
    return v


def alike(cosine: float, axis: int = 1, base: int = 0) -> np.ndarray:
    """A unit vector whose cosine similarity with unit(base) is `cosine`."""
    v = np.zeros(DIM, dtype=np.float32)
    v[base], v[axis] = cosine, math.sqrt(1 - cosine**2)
    return v


@pytest.fixture
def admin_api(users):
    return as_user(users[Role.ADMIN])


@pytest.fixture
def clip(alpha, tiny_clip_model):  # noqa: F811 - the fixture imported above
    return clip_switch_on(alpha)


def with_vectors(tenant, model, vectors: dict) -> None:
    """Store these vectors as the model's embeddings and tell the listeners, as the embed stage does."""
    with tenant_context(tenant):
        embeddings_record(model="clip", version=model.version, vectors=vectors)
        embeddings_stored(model="clip", image_ids=list(vectors))


def images(tenant, api, count: int, start: int = 0) -> list[str]:
    return [
        ingest(tenant, api, f"p{i}.jpg", jpeg_bytes(photo(i)), detect=False)
        for i in range(start, start + count)
    ]


def regroup_jobs(tenant) -> list[Job]:
    with tenant_context(tenant):
        return list(Job.objects.filter(kind=REGROUP).order_by("created_at"))


def run(tenant, job: Job) -> Job:
    with tenant_context(tenant):
        return job_run(job_id=job.pk) or Job.objects.get(pk=job.pk)


def switch_on(tenant, api, **extra) -> Job:
    response = api.patch("tenant/settings", {"similar_enabled": True, **extra})
    assert response.status_code == 200, response.content
    return run(tenant, regroup_jobs(tenant)[-1])


def similar_groups(tenant, status=GroupStatus.OPEN) -> list[set[str]]:
    with tenant_context(tenant):
        groups = Group.objects.filter(kind=Kind.SIMILAR, status=status, member_count__gte=2)
        return sorted(
            (
                {str(i) for i in Member.objects.filter(group=g).values_list("image_id", flat=True)}
                for g in groups
            ),
            key=sorted,
        )


def policy(tenant) -> tuple:
    with tenant_context(tenant):
        row = DuplicateSettings.objects.first() or DuplicateSettings()
        return row.similar_enabled, row.similar_threshold


@pytest.mark.parametrize("value", [0.79, 1.0, 0.5, "high", True])
def test_a_threshold_outside_0_80_to_0_99_is_a_400_for_its_field(alpha, admin_api, clip, value):
    response = admin_api.patch("tenant/settings", {"similar_threshold": value, "keeper_criteria": ["size"]})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] in {"settings_invalid", "invalid_input"}
    assert list(error["detail"]) == ["similar_threshold"]
    assert policy(alpha) == (False, 0.9)
    with tenant_context(alpha):
        assert (DuplicateSettings.objects.first() or DuplicateSettings()).keeper_criteria[0] == "original"
        assert not AuditEvent.objects.filter(action="duplicates.settings_changed").exists()
    legacy = admin_api.patch("duplicates/settings", {"similar_threshold": 0.995})
    assert legacy.status_code == 400
    assert legacy.json()["error"]["detail"] == {"similar_threshold": [
        "The similar threshold must be from 0.8 to 0.99, not 0.995."
    ]}  # fmt: skip


def test_the_threshold_and_the_model_are_in_the_settings(alpha, admin_api, clip):
    body = admin_api.get("tenant/settings").json()

    assert (body["similar_enabled"], body["similar_threshold"], body["similar_model"]) == (False, 0.9, "clip")
    assert body["editable"]["similar_threshold"] is True
    assert admin_api.get("duplicates/settings").json()["similar_threshold"] == 0.9


@pytest.mark.parametrize(
    ("change", "field"),
    [({"similar_enabled": True}, "similar_enabled"), ({"similar_threshold": 0.95}, "similar_threshold")],
)
def test_similar_without_an_active_embedding_model_is_400_similar_needs_model(
    alpha, admin_api, change, field
):
    assert admin_api.get("tenant/settings").json()["similar_model"] is None

    response = admin_api.patch("tenant/settings", {**change, "format_priority": ["png"]})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "similar_needs_model"
    assert "needs an embedding model" in error["message"]
    assert "CLIP or ResNet-50" in error["message"]
    assert list(error["detail"]) == [field]
    assert policy(alpha) == (False, 0.9)
    with tenant_context(alpha):
        assert (DuplicateSettings.objects.first() or DuplicateSettings()).format_priority[0] == "heic"
        assert not Job.objects.filter(kind=REGROUP).exists()
        assert not AuditEvent.objects.filter(action="duplicates.settings_changed").exists()


def test_clip_switched_on_without_its_weights_is_no_model(alpha, admin_api, clip, settings):
    settings.DEEPLENS_CLIP_CHECKPOINT = ""

    response = admin_api.patch("tenant/settings", {"similar_enabled": True})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "similar_needs_model"
    assert admin_api.get("tenant/settings").json()["similar_model"] is None
    assert policy(alpha) == (False, 0.9)


def test_switching_on_audits_and_regroups_the_embedded_images_in_a_job(alpha, admin_api, member_api, clip):
    a, b, c = images(alpha, member_api, 3)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95), c: unit(5)})
    assert similar_groups(alpha) == []  # off: embedding groups nothing

    response = admin_api.patch("tenant/settings", {"similar_enabled": True})

    assert response.status_code == 200, response.content
    (job,) = regroup_jobs(alpha)
    assert (job.state, job.params["threshold"]) == ("queued", 0.9)
    job = run(alpha, job)
    assert (job.state, job.processed) == ("done", 3)
    assert similar_groups(alpha) == [{a, b}]
    with tenant_context(alpha):
        group = Group.objects.get(kind=Kind.SIMILAR)
        assert group.confidence == pytest.approx(0.95, abs=0.002)
        event = AuditEvent.objects.get(action="duplicates.settings_changed")
    assert event.details == {"before": {"similar_enabled": False}, "after": {"similar_enabled": True}}
    listed = admin_api.get("duplicates/groups", {"kind": "similar"}).json()["results"]
    assert [(g["id"], g["kind"]) for g in listed] == [(str(group.pk), "similar")]
    assert {m["image_id"] for m in listed[0]["members"]} == {a, b}
    jobs = admin_api.get("jobs", {"kind": REGROUP}).json()["results"]
    assert [(j["id"], j["kind"], j["state"]) for j in jobs] == [(str(job.pk), REGROUP, "done")]


def test_a_new_embedding_joins_the_similar_group_of_its_neighbours(alpha, admin_api, member_api, clip):
    a, b, c = images(alpha, member_api, 3)
    with_vectors(alpha, clip, {a: unit(0)})
    switch_on(alpha, admin_api)

    with_vectors(alpha, clip, {b: alike(0.93)})
    assert similar_groups(alpha) == [{a, b}]
    with_vectors(alpha, clip, {c: alike(0.91, axis=2)})  # like a (0.91), not like b (0.85)

    assert similar_groups(alpha) == [{a, b, c}]
    with tenant_context(alpha):
        assert Group.objects.get(kind=Kind.SIMILAR).confidence == pytest.approx(0.91, abs=0.002)


def test_real_pictures_embedded_by_the_tiny_model_through_the_embed_stage(alpha, admin_api, member_api, clip):
    """The embed stage stores the tiny model's vectors and groups: a picture and a half-size copy
    of it are alike (cosine ~1.0 under this model), a different picture is not (~0.94)."""
    original = photo(0)
    half = original.resize((original.width // 2, original.height // 2), PILImage.Resampling.LANCZOS)
    a = ingest(alpha, member_api, "a.jpg", jpeg_bytes(original), detect=False)
    b = ingest(alpha, member_api, "half.jpg", jpeg_bytes(half), detect=False)
    other = ingest(alpha, member_api, "other.jpg", jpeg_bytes(photo(5)), detect=False)
    switch_on(alpha, admin_api, similar_threshold=0.98)

    with tenant_context(alpha):
        assert images_embed(model="clip", image_ids=[a, b, other]) == 3

    assert similar_groups(alpha) == [{a, b}]


def test_near_duplicates_are_never_similar_and_detection_never_merges_into_a_similar_group(
    alpha, admin_api, member_api, clip
):
    a, b = (ingest(alpha, member_api, f"p{i}.jpg", jpeg_bytes(photo(i))) for i in range(2))  # detected
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95)})
    switch_on(alpha, admin_api)
    assert similar_groups(alpha) == [{a, b}]

    # a copy of a: detection groups a with it as near duplicates, in a group of its own
    copy = ingest(alpha, member_api, "copy.jpg", jpeg_bytes(photo(0), quality=60), detect=False)
    with tenant_context(alpha):
        near = image_detect(image_id=copy)
        assert near is not None and near.kind in (Kind.NEAR, Kind.EXACT)
        assert {str(i) for i in Member.objects.filter(group=near).values_list("image_id", flat=True)} == {
            a,
            copy,
        }
    # ... and a leaves the similar group, which, left with one image, goes
    assert similar_groups(alpha) == []

    # the copy's embedding is like b's, but the copy is a duplicate already: not similar
    with_vectors(alpha, clip, {copy: alike(0.99)})
    assert similar_groups(alpha) == []
    with tenant_context(alpha):
        assert Group.objects.filter(status=GroupStatus.OPEN).count() == 1


def test_resolve_all_and_remove_identical_leave_similar_groups_alone(alpha, admin_api, member_api, clip):
    a, b = images(alpha, member_api, 2)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95)})
    switch_on(alpha, admin_api)
    with tenant_context(alpha):
        group = Group.objects.get(kind=Kind.SIMILAR)

    for dry_run in (True, False):
        refused = admin_api.post("duplicates/resolve-all", {"kind": "similar", "dry_run": dry_run})
        assert refused.status_code == 400, refused.content
        assert refused.json()["error"]["code"] == "similar_not_bulk_resolvable"
        assert "resolve each similar group on its own" in refused.json()["error"]["message"]
    preview = admin_api.post("duplicates/resolve-all", {"dry_run": True}).json()
    assert (preview["groups"], preview["images_to_trash"], preview["reclaimable_bytes"]) == (0, 0, 0)
    assert admin_api.post("duplicates/remove-identical", {"dry_run": True}).json()["groups"] == 0
    job = admin_api.post("duplicates/resolve-all", {"dry_run": False}).json()
    with tenant_context(alpha):
        assert job_run(job_id=job["id"]).state == "done"
        assert Job.objects.filter(kind="duplicates_resolve_all").count() == 1
        group.refresh_from_db()
    assert group.status == GroupStatus.OPEN

    resolved = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [a]})

    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["status"] == "resolved"


def test_the_report_counts_similar_apart_from_what_is_removable(alpha, admin_api, member_api, clip):
    a, b = images(alpha, member_api, 2)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95)})
    switch_on(alpha, admin_api)
    with tenant_context(alpha):
        group = Group.objects.get(kind=Kind.SIMILAR)

    report = admin_api.get("duplicates/report").json()

    assert group.reclaimable_bytes > 0
    assert (report["groups"], report["duplicate_images"], report["reclaimable_bytes"]) == (0, 0, 0)
    assert report["by_kind"] == {"exact": 0, "near": 0, "similar": group.reclaimable_bytes}
    assert report["by_storage_location"] == {}
    assert (report["similar_groups"], report["similar_images"]) == (1, 2)


def test_switching_off_removes_the_open_similar_groups_and_keeps_resolved_ones(
    alpha, admin_api, member_api, clip
):
    a, b, c, d = images(alpha, member_api, 4)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95), c: unit(3), d: alike(0.96, axis=4, base=3)})
    switch_on(alpha, admin_api)
    assert similar_groups(alpha) == sorted([{a, b}, {c, d}], key=sorted)
    with tenant_context(alpha):
        resolved = Group.objects.get(kind=Kind.SIMILAR, members__image_id=c)
    assert admin_api.post(f"duplicates/groups/{resolved.pk}/resolve", {"keep": [c, d]}).status_code == 200

    response = admin_api.patch("tenant/settings", {"similar_enabled": False})

    assert response.status_code == 200, response.content
    assert similar_groups(alpha) == []
    assert similar_groups(alpha, status=GroupStatus.RESOLVED) == [{c, d}]
    assert len(regroup_jobs(alpha)) == 1  # switching off starts none
    with_vectors(alpha, clip, {b: alike(0.99)})  # off: a new embedding groups nothing
    assert similar_groups(alpha) == []


def test_a_new_threshold_regroups_every_image(alpha, admin_api, member_api, clip):
    a, b, c = images(alpha, member_api, 3)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95), c: alike(0.85, axis=2)})
    switch_on(alpha, admin_api, similar_threshold=0.8)
    assert similar_groups(alpha) == [{a, b, c}]

    response = admin_api.patch("tenant/settings", {"similar_threshold": 0.93})

    assert response.status_code == 200, response.content
    assert response.json()["similar_threshold"] == 0.93
    first, second = regroup_jobs(alpha)
    assert second.params["threshold"] == 0.93
    run(alpha, second)
    assert similar_groups(alpha) == [{a, b}]
    with tenant_context(alpha):
        event = (
            AuditEvent.objects.filter(action="duplicates.settings_changed").order_by("-created_at").first()
        )
    assert event.details == {"before": {"similar_threshold": 0.8}, "after": {"similar_threshold": 0.93}}
    # the job of the old threshold, run late, changes nothing
    with tenant_context(alpha):
        Job.objects.filter(pk=first.pk).update(state="queued")
    run(alpha, first)
    assert similar_groups(alpha) == [{a, b}]


def test_only_duplicates_managers_change_similar_or_see_its_jobs(alpha, admin_api, member_api, users, clip):
    a, b = images(alpha, member_api, 2)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95)})
    job = switch_on(alpha, admin_api)

    for role in (Role.VIEWER, Role.MEMBER):
        api = as_user(users[role])
        assert api.patch("tenant/settings", {"similar_enabled": False}).status_code == 403
        assert api.patch("duplicates/settings", {"similar_threshold": 0.95}).status_code == 403
        assert api.post("duplicates/resolve-all", {"kind": "similar"}).status_code == 403
        assert REGROUP not in {j["kind"] for j in api.get("jobs").json()["results"]}
        assert api.get(f"jobs/{job.pk}").status_code == 404
    assert policy(alpha) == (True, 0.9)
    assert similar_groups(alpha) == [{a, b}]
    assert admin_api.get(f"jobs/{job.pk}").json()["kind"] == REGROUP


def test_another_tenants_credentials_change_nothing_and_groups_stay_in_their_tenant(
    alpha, beta, admin_api, member_api, users, clip
):
    a, b = images(alpha, member_api, 2)
    with_vectors(alpha, clip, {a: unit(0), b: alike(0.95)})
    beta_clip = clip_switch_on(beta)
    beta_admin = UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test")
    x = ingest(beta, as_user(users["beta_member"]), "x.jpg", jpeg_bytes(photo(0)), detect=False)
    with_vectors(beta, beta_clip, {x: alike(0.99)})

    refused = as_user(beta_admin, tenant=alpha).patch("tenant/settings", {"similar_enabled": True})

    assert refused.status_code in (401, 403)
    assert policy(alpha) == (False, 0.9)
    switch_on(alpha, admin_api)
    assert similar_groups(alpha) == [{a, b}]
    assert similar_groups(beta) == []
    assert policy(beta) == (False, 0.9)


def test_the_settings_page_says_plainly_that_similar_needs_a_model(alpha, users, tiny_clip_model):  # noqa: F811
    client = signed_in(alpha, users["owner"].email)
    page = client.get("/settings/workspace/").content.decode()
    assert 'data-testid="similar-needs-model"' in page
    assert "Similar grouping needs an embedding model" in page

    refused = client.post("/settings/workspace/", {**settings_form(client), "similar_enabled": "on"})

    assert refused.status_code == 400
    html = refused.content.decode()
    assert "similar_needs_model" not in html
    assert html.count("Similar grouping needs an embedding model") == 2  # the notice, and next to the field
    assert policy(alpha) == (False, 0.9)

    clip_switch_on(alpha)
    page = client.get("/settings/workspace/").content.decode()
    assert 'data-testid="similar-model"' in page
    saved = client.post(
        "/settings/workspace/",
        {**settings_form(client), "similar_enabled": "on", "similar_threshold": "0.95"},
    )
    assert saved.status_code == 302
    assert policy(alpha) == (True, 0.95)
    assert len(regroup_jobs(alpha)) == 1
