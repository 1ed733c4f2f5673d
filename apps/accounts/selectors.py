from django.db.models import Count, QuerySet
from django.utils import timezone

from apps.accounts.filters import UserFilter
from apps.accounts.models import ApiKey, ImpersonationSession, RefreshToken, Role, SsoProvider, User
from apps.core.filtering import FilterData, apply_filters
from apps.tenants.models import Tenant


def user_count_by_role(*, tenant: Tenant) -> list[tuple[str, int]]:
    """[(role label, active users)] for every tenant role, in order of privilege."""
    counts = dict(
        User.objects.filter(tenant=tenant, is_active=True, deleted_at__isnull=True)
        .values_list("role")
        .annotate(n=Count("id"))
    )
    return [(label, counts.get(value, 0)) for value, label in Role.choices if value != Role.GLOBAL_ADMIN]


def user_list(*, tenant: Tenant, filters: FilterData | None = None) -> QuerySet[User]:
    """The tenant's users by email, narrowed by UserFilter; raises InvalidFilter for a bad value."""
    users = User.objects.filter(tenant=tenant, deleted_at__isnull=True).select_related("tenant")
    return apply_filters(UserFilter, filters, users.order_by("email"))


def user_get(*, tenant: Tenant, user_id) -> User | None:
    return user_list(tenant=tenant).filter(pk=user_id).first()


def user_get_any(*, user_id) -> User | None:
    """Across tenants: for global admins only."""
    return User.objects.select_related("tenant").filter(pk=user_id, deleted_at__isnull=True).first()


def session_list(*, user: User) -> list[RefreshToken]:
    """The user's live API sessions: the newest token of each unrevoked refresh family."""
    return list(
        RefreshToken.objects.filter(
            user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).order_by("-created_at")
    )


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("-created_at")


def api_key_get(*, tenant: Tenant, key_id) -> ApiKey | None:
    return api_key_list(tenant=tenant).filter(pk=key_id).first()


def impersonation_get_active(*, session_id) -> ImpersonationSession | None:
    return (
        ImpersonationSession.objects.select_related("impersonator", "target", "target__tenant")
        .filter(pk=session_id, ended_at__isnull=True)
        .first()
    )


def sso_provider_list(*, tenant: Tenant, active_only: bool = False) -> QuerySet[SsoProvider]:
    providers = SsoProvider.objects.filter(tenant=tenant).order_by("name")
    return providers.filter(is_active=True) if active_only else providers


def sso_provider_get(*, tenant: Tenant, provider_id) -> SsoProvider | None:
    return SsoProvider.objects.select_related("tenant").filter(tenant=tenant, pk=provider_id).first()


def tenant_owner_list(*, tenant: Tenant) -> QuerySet[User]:
    """Active owners: who may be the break-glass account of an SSO-only workspace."""
    return User.objects.filter(
        tenant=tenant, role=Role.OWNER, is_active=True, deleted_at__isnull=True
    ).order_by("email")
