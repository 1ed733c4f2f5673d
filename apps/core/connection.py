"""django.db.connection as django-tenants makes it: its wrapper knows the current schema and tenant.

`connection` here is the very object django.db.connection is; only its type says more. django-stubs types
that connection as Django's BaseDatabaseWrapper, which has no schema_name, tenant or set_tenant.
"""

from typing import TYPE_CHECKING, Any, cast

from django.db import connection as django_connection

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    from apps.tenants.models import Tenant

    class TenantDatabaseWrapper(BaseDatabaseWrapper):
        """What django_tenants.postgresql_backend.base.DatabaseWrapper adds to Django's wrapper."""

        schema_name: str
        # Under schema_context() / set_schema() django-tenants puts a FakeTenant here (schema_name only).
        tenant: Tenant

        def set_tenant(self, tenant: Tenant, include_public: bool = True) -> None: ...

        def set_schema(self, schema_name: str, include_public: bool = True) -> None: ...

        def set_schema_to_public(self) -> None: ...

        def cursor_any_schema(self) -> Any:
            """deeplens/db/base.py: a cursor that sets no search_path, for schema-qualified SQL."""


connection = cast("TenantDatabaseWrapper", django_connection)
