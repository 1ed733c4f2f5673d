"""GET/PATCH /api/v1/tenant/settings: every setting in one place, each field by its own permission,
all or nothing, audited with before and after, and seen by the workers at once."""

import pytest
from django.conf import settings
from django_tenants.utils import tenant_context

from apps.audit.models import AuditEvent
from apps.duplicates.keeper import default_keeper_criteria
from apps.duplicates.models import DuplicateSettings
from apps.images.models import ImageSettings, ThumbnailSpec
from apps.tenants.models import Tenant
from tests.api import as_user
from tests.support.clip_model import clip_switch_on, tiny_clip_model  # noqa: F401 - a fixture

SPEC = {"name": "a", "max_width": 64, "max_height": 64, "format": "webp", "quality": 80}


@pytest.fixture
def owner_api(users):
    return as_user(users["owner"])


@pytest.fixture
def admin_api(users):
    return as_user(users["admin"])


def _image_policy(tenant) -> tuple:
    with tenant_context(tenant):
        policy = ImageSettings.objects.first() or ImageSettings()
        return (policy.retention_days, policy.keep_gps, policy.max_upload_bytes, policy.identical_uploads)


def test_the_owner_reads_every_setting_and_may_change_all(alpha, owner_api):
    body = owner_api.get("tenant/settings").json()

    assert (body["name"], body["slug"], body["time_zone"]) == (alpha.name, "alpha", "UTC")
    assert (body["retention_days"], body["keep_gps"], body["identical_uploads"]) == (30, True, "keep")
    assert body["max_upload_bytes_cap"] == min(settings.DEEPLENS_MAX_UPLOAD_BYTES, 1024**3)
    assert body["keeper_criteria"][0] == "original"
    assert [spec["name"] for spec in body["thumbnail_specs"]] == ["small", "medium", "large"]
    assert all(body["editable"].values())


def test_an_admin_sees_the_owner_fields_as_not_editable(admin_api):
    editable = admin_api.get("tenant/settings").json()["editable"]

    assert [f for f, may in editable.items() if not may] == [
        "name", "time_zone", "retention_days", "keep_gps", "max_upload_bytes",
    ]  # fmt: skip


@pytest.mark.usefixtures("tiny_clip_model")
def test_the_owner_changes_policy_and_each_part_is_audited_with_before_and_after(alpha, owner_api):
    clip_switch_on(alpha)  # a new similar threshold needs an active embedding model
    old_name = alpha.name
    response = owner_api.patch(
        "tenant/settings",
        {
            "name": "  Alpha Photos ",
            "time_zone": "Europe/Berlin",
            "retention_days": 7,
            "keep_gps": False,
            "max_upload_bytes": 5_000_000,
            "identical_uploads": "refuse",
            "keeper_criteria": ["resolution", "original"],
            "similar_threshold": 0.95,
        },
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["time_zone"], body["retention_days"], body["keep_gps"]) == (
        "Alpha Photos", "Europe/Berlin", 7, False,
    )  # fmt: skip
    assert body["keeper_criteria"][:3] == ["resolution", "original", "metadata"]
    alpha.refresh_from_db()
    assert (alpha.name, alpha.time_zone) == ("Alpha Photos", "Europe/Berlin")
    assert _image_policy(alpha) == (7, False, 5_000_000, "refuse")
    with tenant_context(alpha):
        assert DuplicateSettings.objects.get().similar_threshold == 0.95
        image_event = AuditEvent.objects.get(action="images.settings_changed")
        duplicate_event = AuditEvent.objects.get(action="duplicates.settings_changed")
    tenant_event = AuditEvent.objects.get(action="tenant.updated", tenant_id=alpha.pk)
    assert image_event.details == {
        "before": {"retention_days": 30, "keep_gps": True, "max_upload_bytes": 100 * 1024 * 1024,
                   "identical_uploads": "keep"},
        "after": {"retention_days": 7, "keep_gps": False, "max_upload_bytes": 5_000_000,
                  "identical_uploads": "refuse"},
    }  # fmt: skip
    criteria = default_keeper_criteria()
    moved = ["resolution", "original"]
    assert duplicate_event.details == {
        "before": {"keeper_criteria": criteria, "similar_threshold": 0.9},
        "after": {
            "keeper_criteria": [*moved, *(c for c in criteria if c not in moved)],
            "similar_threshold": 0.95,
        },
    }
    assert tenant_event.details == {"name": [old_name, "Alpha Photos"], "time_zone": ["UTC", "Europe/Berlin"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"retention_days": 0}, "retention_days"),
        ({"retention_days": 5000}, "retention_days"),
        ({"max_upload_bytes": 10}, "max_upload_bytes"),
        ({"max_upload_bytes": 2 * 1024**3}, "max_upload_bytes"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"name": "   "}, "name"),
        ({"keeper_criteria": ["filename"]}, "keeper_criteria"),
        ({"format_priority": ["jpeg", "jpeg"]}, "format_priority"),
        ({"thumbnail_specs": [SPEC, SPEC]}, "thumbnail_specs"),
        ({"thumbnail_specs": [{**SPEC, "max_width": 8}]}, "thumbnail_specs"),
        ({"identical_uploads": "maybe"}, "identical_uploads"),
        ({"similar_threshold": 0.5}, "similar_threshold"),
        ({"similar_threshold": 0.999}, "similar_threshold"),
        ({"similar_threshold": "most"}, "similar_threshold"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_bad_value_is_a_400_for_its_field_and_nothing_changes(alpha, owner_api, change, field):
    before_name = alpha.name

    response = owner_api.patch("tenant/settings", {"keep_gps": False, **change})

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] in {"settings_invalid", "invalid_input"}
    assert list(error["detail"]) == [field]
    assert error["detail"][field]
    alpha.refresh_from_db()
    assert alpha.name == before_name
    assert _image_policy(alpha) == (30, True, 100 * 1024 * 1024, "keep")
    with tenant_context(alpha):
        assert not AuditEvent.objects.filter(action__endswith="settings_changed").exists()


def test_an_admin_may_change_duplicates_and_thumbnails_but_not_owner_fields(alpha, admin_api):
    refused = admin_api.patch("tenant/settings", {"similar_enabled": True, "retention_days": 3})

    assert refused.status_code == 403
    assert list(refused.json()["error"]["detail"]) == ["retention_days"]
    with tenant_context(alpha):
        assert not DuplicateSettings.objects.filter(similar_enabled=True).exists()

    specs = [
        {"name": "small", "max_width": 200, "max_height": 200, "format": "webp", "quality": 80},
        {"name": "poster", "max_width": 900, "max_height": 600, "format": "jpeg", "quality": 85},
    ]
    allowed = admin_api.patch("tenant/settings", {"keeper_criteria": ["size"], "thumbnail_specs": specs})

    assert allowed.status_code == 200, allowed.content
    assert allowed.json()["thumbnail_specs"] == specs
    with tenant_context(alpha):
        assert sorted(ThumbnailSpec.objects.filter(is_active=True).values_list("name", flat=True)) == [
            "poster", "small",
        ]  # fmt: skip
        assert AuditEvent.objects.filter(action="thumbnails.config_changed").count() == 1


def test_viewers_and_members_get_403_and_change_nothing(alpha, users):
    for role in ("viewer", "member"):
        api = as_user(users[role])
        assert api.get("tenant/settings").status_code == 403
        assert api.patch("tenant/settings", {"similar_enabled": True}).status_code == 403
    assert _image_policy(alpha) == (30, True, 100 * 1024 * 1024, "keep")


def test_credentials_of_another_tenant_change_nothing_here(alpha, beta, users):
    """An owner of beta calling alpha's host is refused; alpha's settings stay as they were."""
    from tests.factories import UserFactory

    beta_owner = UserFactory(tenant=beta, role="owner", email="owner@beta.test")
    api = as_user(beta_owner, tenant=alpha)

    response = api.patch("tenant/settings", {"name": "Taken over", "retention_days": 1})

    assert response.status_code in (401, 403)
    assert Tenant.objects.get(pk=alpha.pk).name != "Taken over"
    assert _image_policy(alpha)[0] == 30
    assert as_user(beta_owner).patch("tenant/settings", {"retention_days": 2}).status_code == 200
    assert (_image_policy(alpha)[0], _image_policy(beta)[0]) == (30, 2)


def test_a_new_upload_limit_applies_to_the_next_upload(alpha, owner_api, users):
    """Web and workers read the policy through the process cache, which the test settings turn off
    and a change clears in the process that made it."""
    from apps.images.services import image_settings_get

    owner_api.patch("tenant/settings", {"max_upload_bytes": 2048})

    with tenant_context(alpha):
        assert image_settings_get().max_upload_bytes == 2048
