"""The search app's audit events are AuditAction members: the log page names them and its action
filter accepts them."""

from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent
from apps.search.models import SearchModel
from apps.search.services.models import search_model_activate, search_model_deactivate
from tests.api import as_user


def test_switching_models_on_and_off_is_audited_with_audit_actions(alpha, users):
    admin = Actor(user=users[Role.ADMIN])
    with tenant_context(alpha):
        SearchModel.objects.create(key="clip", is_active=True)
        search_model_activate(key="descriptor", actor=admin, tenant=alpha)
        search_model_deactivate(key="clip", actor=admin, tenant=alpha)

    events = AuditEvent.objects.filter(action__startswith="search.").order_by("id")
    assert [(e.action, e.get_action_display(), e.details) for e in events] == [
        (AuditAction.SEARCH_MODEL_ACTIVATED, "Search model activated", {"model": "descriptor"}),
        (AuditAction.SEARCH_MODEL_DEACTIVATED, "Search model deactivated", {"model": "clip"}),
    ]
    listed = as_user(users[Role.ADMIN]).get("audit-events", {"action": "search.model_deactivated"})
    assert [e["details"] for e in listed.json()["results"]] == [{"model": "clip"}]
