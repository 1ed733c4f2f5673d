from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.shortcuts import render
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm
from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditAction, AuditEvent
from apps.audit.selectors import audit_event_list
from apps.core.filtering import FilterErrors, InvalidFilter


class AuditLogPage(PermissionRequiredPage, View):
    required_permission = Perm.AUDIT_VIEW

    def get(self, request):
        # The page is the tenant's own log: `tenant` (a global admin's choice in the API) is not read.
        params = {k: v for k, v in request.GET.items() if k in AuditEventFilter.base_filters and v}
        events: QuerySet[AuditEvent] | list[AuditEvent]
        try:
            events, errors = audit_event_list(tenant=request.tenant, filters=params), FilterErrors()
        except InvalidFilter as exc:
            events, errors = [], FilterErrors.from_exception(exc, AuditEventFilter)
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "audit/log.html",
            {
                "page": page,
                "params": params,
                "filter_errors": errors,
                "actions": AuditAction.choices,
                "export_query": urlencode(params),
            },
            status=400 if errors else 200,
        )
