"""The rows an API credential is checked against, read on every API request. Raw SQL: compiling the
ORM's queries was a fifth of a search's web CPU under load (py-spy on the web workers, 50 clients);
the rows are still model instances.

Separate from selectors.py: authentication is imported while DRF's settings load, before the modules
selectors.py imports can be."""

from django_tenants.utils import get_public_schema_name

from apps.accounts.models import ApiKey, RefreshToken, User
from apps.core.connection import connection
from apps.core.prepared import execute_prepared
from apps.core.rows import columns, instance
from apps.tenants.models import Tenant


def api_key_by_prefix(prefix: str) -> ApiKey | None:
    """The API key with this prefix, its creator loaded (`created_by`). Read before the request's
    tenant is chosen, with its tables named in the public schema, so the connection's search_path
    is neither needed nor changed (deeplens/db/base.py)."""
    key_fields, user_fields = ApiKey._meta.concrete_fields, User._meta.concrete_fields
    public = get_public_schema_name()
    with connection.cursor_any_schema() as cursor:
        execute_prepared(
            cursor,
            f"SELECT {columns('k', key_fields)}, {columns('u', user_fields)}"
            f' FROM "{public}"."{ApiKey._meta.db_table}" k'
            f' JOIN "{public}"."{User._meta.db_table}" u ON u.id = k.created_by_id'
            " WHERE k.prefix = %s",
            [prefix],
            ["text"],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(key_fields)
    key = instance(ApiKey, key_fields, row[:split])
    key.created_by = instance(User, user_fields, row[split:])
    return key


def token_user_get(*, user_id, family, now) -> tuple[User | None, bool]:
    """The user an access token names (its tenant loaded) and whether the token's session (its
    refresh-token family) is still live at `now`, in one query."""
    user_fields, tenant_fields = User._meta.concrete_fields, Tenant._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns('u', user_fields)}, {columns('t', tenant_fields)},"
            f" EXISTS (SELECT 1 FROM {RefreshToken._meta.db_table} r WHERE r.family = %s"
            " AND r.user_id = u.id AND r.revoked_at IS NULL AND r.expires_at > %s)"
            f" FROM {User._meta.db_table} u LEFT JOIN {Tenant._meta.db_table} t ON t.id = u.tenant_id"
            " WHERE u.id = %s",
            [family, now, user_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None, False
    split = len(user_fields)
    user = instance(User, user_fields, row[:split])
    if user.tenant_id is not None:
        user.tenant = instance(Tenant, tenant_fields, row[split:-1])
    return user, bool(row[-1])
