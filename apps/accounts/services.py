from django.db import transaction

from apps.accounts.models import TENANT_ROLES, Role, User
from apps.core.errors import InvalidInput
from apps.tenants.models import Tenant


@transaction.atomic
def user_create(*, tenant: Tenant, email: str, password: str, role: str = Role.MEMBER, **fields) -> User:
    if role not in TENANT_ROLES:
        raise InvalidInput(f"{role!r} is not a tenant role.", code="role_invalid")
    return User.objects.create_user(email, password, tenant=tenant, role=role, **fields)


@transaction.atomic
def user_ensure(*, tenant: Tenant | None, email: str, password: str, role: str, **fields) -> User:
    """Create the user unless one with that email exists in that tenant (used by seeding)."""
    email = email.strip().lower()
    existing = User.objects.filter(tenant=tenant, email=email).first()
    if existing is not None:
        return existing
    if tenant is None:
        return User.objects.create_superuser(email, password, **fields)
    return user_create(tenant=tenant, email=email, password=password, role=role, **fields)
