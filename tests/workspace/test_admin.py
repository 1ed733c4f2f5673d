"""The Django admin's tenant page edits the workspace's policy through the settings service."""

import pytest
from django_tenants.utils import tenant_context

from apps.audit.models import AuditEvent
from apps.duplicates.models import DuplicateSettings
from apps.images.models import ImageSettings
from tests.factories import PASSWORD
from tests.support.clip_model import clip_switch_on, tiny_clip_model  # noqa: F401 - a fixture

BASE = {"name": "Alpha", "status": "active", "tier": "free", "time_zone": "UTC"}
BASE |= {"domains-TOTAL_FORMS": 0, "domains-INITIAL_FORMS": 0}


@pytest.fixture
def admin_client(users, public_client):
    public_client.post("/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD})
    return public_client


def test_the_tenant_page_shows_and_changes_the_workspace_policy(admin_client, alpha):
    page = admin_client.get(f"/admin/tenants/tenant/{alpha.pk}/change/")
    assert page.status_code == 200
    assert 'name="retention_days" value="30"' in page.content.decode()

    response = admin_client.post(
        f"/admin/tenants/tenant/{alpha.pk}/change/",
        {**BASE, "retention_days": 12, "keep_gps": "false", "keeper_criteria": "size, original"},
    )

    assert response.status_code == 302, response.content[:3000]
    with tenant_context(alpha):
        policy = ImageSettings.objects.get()
        assert (policy.retention_days, policy.keep_gps) == (12, False)
        assert DuplicateSettings.objects.get().keeper_criteria[:2] == ["size", "original"]
        assert AuditEvent.objects.filter(action="images.settings_changed").count() == 1


def test_a_bad_policy_value_is_explained_next_to_its_field(admin_client, alpha):
    response = admin_client.post(
        f"/admin/tenants/tenant/{alpha.pk}/change/", {**BASE, "retention_days": 0, "name": "Renamed"}
    )

    assert response.status_code == 200
    assert "retention_days" in response.context["adminform"].form.errors
    alpha.refresh_from_db()
    assert alpha.name != "Renamed"


@pytest.mark.usefixtures("tiny_clip_model")
def test_the_tenant_page_edits_the_similar_threshold_once_a_model_is_on(admin_client, alpha):
    url = f"/admin/tenants/tenant/{alpha.pk}/change/"
    assert 'name="similar_threshold" value="0.9"' in admin_client.get(url).content.decode()

    refused = admin_client.post(url, {**BASE, "similar_threshold": "0.95"})

    assert refused.status_code == 200
    assert "needs an embedding model" in refused.context["adminform"].form.errors["similar_threshold"][0]
    clip_switch_on(alpha)
    response = admin_client.post(url, {**BASE, "similar_threshold": "0.95"})

    assert response.status_code == 302, response.content[:3000]
    with tenant_context(alpha):
        assert DuplicateSettings.objects.get().similar_threshold == 0.95
        event = AuditEvent.objects.get(action="duplicates.settings_changed")
    assert event.details == {"before": {"similar_threshold": 0.9}, "after": {"similar_threshold": 0.95}}
