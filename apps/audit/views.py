from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm
from apps.audit.api import AuditFilters
from apps.audit.models import AuditAction
from apps.audit.selectors import audit_event_list


class AuditLogPage(PermissionRequiredPage, View):
    required_permission = Perm.AUDIT_VIEW

    def get(self, request):
        params = {k: v for k, v in request.GET.items() if k in AuditFilters().fields and k != "tenant" and v}
        filters = AuditFilters(data=params)
        valid = filters.is_valid()
        criteria = {k: v for k, v in (filters.validated_data if valid else {}).items() if k != "tenant"}
        events = (
            audit_event_list(tenant=request.tenant, **criteria)
            if valid
            else audit_event_list(tenant=request.tenant).none()
        )
        page = Paginator(events, 50).get_page(request.GET.get("page"))
        return render(
            request,
            "audit/log.html",
            {
                "page": page,
                "params": params,
                "errors": filters.errors if not valid else {},
                "actions": AuditAction.choices,
                "export_query": urlencode(params),
            },
            status=200 if valid else 400,
        )
