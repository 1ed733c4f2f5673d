from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.views.generic import TemplateView

from apps.accounts.permissions import PUBLIC
from apps.core.outages import current_outage_response
from apps.tenants.selectors import tenant_list


class PublicHomeView(TemplateView):
    """The public site's front page: where the workspaces are (for signed-in global admins)."""

    template_name = "core/public_home.html"
    required_permission = PUBLIC

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["signup_enabled"] = settings.DEEPLENS_SIGNUP_ENABLED
        user = self.request.user
        if user.is_authenticated and user.is_global_admin:
            context["tenants"] = list(tenant_list())
        return context


def page_not_found(request, exception=None):
    if request.path.startswith("/api/v1/"):
        # No route matched (an unknown path, or an id that is no UUID): the API's JSON error, not a page.
        return JsonResponse(
            {
                "error": {
                    "code": "not_found",
                    "message": "There is nothing at this address; ids are UUIDs.",
                    "detail": {},
                }
            },
            status=404,
        )
    return render(
        request,
        "errors/error.html",
        {
            "title": "Page not found",
            "message": "There is nothing at this address.",
            "code": "not_found",
            "status": 404,
        },
        status=404,
    )


def server_error(request):
    outage = current_outage_response(request)
    if outage is not None:
        return outage
    return render(
        request,
        "errors/error.html",
        {
            "title": "Something went wrong",
            "message": "The error has been logged. Please try again.",
            "code": "server_error",
            "status": 500,
        },
        status=500,
    )


def permission_denied(request, exception=None):
    return render(
        request,
        "errors/error.html",
        {
            "title": "Not allowed",
            "message": "You do not have permission to see this page.",
            "code": "permission_denied",
            "status": 403,
        },
        status=403,
    )
