from django.db.models import Count

from apps.accounts.models import Role, User
from apps.tenants.models import Tenant


def user_count_by_role(*, tenant: Tenant) -> list[tuple[str, int]]:
    """[(role label, active users)] for every tenant role, in order of privilege."""
    counts = dict(
        User.objects.filter(tenant=tenant, is_active=True, deleted_at__isnull=True)
        .values_list("role")
        .annotate(n=Count("id"))
    )
    return [(label, counts.get(value, 0)) for value, label in Role.choices if value != Role.GLOBAL_ADMIN]
