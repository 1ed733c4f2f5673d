from django.views.generic import TemplateView

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm
from apps.accounts.selectors import user_count_by_role
from apps.images.selectors import image_counts, thumbnail_spec_list
from apps.images.services import storage_used_bytes
from apps.storage.selectors import storage_location_list
from apps.tenants.request import TenantRequest


class DashboardView(PermissionRequiredPage, TemplateView):
    """The tenant's home: its plan and limits, storage locations, thumbnail sizes and team."""

    request: TenantRequest
    template_name = "dashboard/index.html"

    required_permission = Perm.AUTHENTICATED

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        tenant = self.request.tenant
        context.update(
            tenant=tenant,
            storage_locations=list(storage_location_list()),
            thumbnail_specs=list(thumbnail_spec_list()),
            users_by_role=user_count_by_role(tenant=tenant),
            image_counts=image_counts(),
            storage_used=storage_used_bytes(),
        )
        return context
