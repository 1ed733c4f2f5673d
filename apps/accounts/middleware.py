from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from apps.accounts.selectors import impersonation_get_active
from apps.accounts.services import impersonation_stop
from apps.audit.context import Actor

IMPERSONATION_SESSION_KEY = "deeplens_impersonation_session"


class TenantMembershipMiddleware:
    """A signed-in user counts as signed in only where they belong: their own tenant's host, or
    anywhere for a global admin. Anywhere else they are anonymous."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        tenant = getattr(request, "tenant", None)
        if (
            user.is_authenticated
            and not user.is_global_admin
            and (
                tenant is None
                or tenant.schema_name == get_public_schema_name()
                or user.tenant_id != tenant.pk
                or user.deleted_at is not None
            )
        ):
            request.user = AnonymousUser()
        return self.get_response(request)


class ImpersonationMiddleware:
    """While a global admin impersonates in the browser, `request.impersonator` names them, every
    page shows a banner, and the impersonation ends by itself when it expires."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.impersonator = None
        request.impersonation = None
        session_id = request.session.get(IMPERSONATION_SESSION_KEY) if hasattr(request, "session") else None
        if session_id:
            session = impersonation_get_active(session_id=session_id)
            if session is None or not request.user.is_authenticated or session.target_id != request.user.pk:
                logout(request)
            elif session.expires_at <= timezone.now():
                impersonation_stop(session=session, actor=Actor.from_request(request), expired=True)
                logout(request)
            else:
                request.impersonator = session.impersonator
                request.impersonation = session
        return self.get_response(request)
