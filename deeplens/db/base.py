"""django-tenants' PostgreSQL backend, and no `SET search_path` the database already has.

django-tenants forgets the path it set whenever a tenant is selected, even the same one again. The
tenant middleware selects the public schema first, then the request's tenant, so every request
sent a SET, and a request with an API key (read in the public schema) two. Here the path the
database session actually has is remembered too, and a `SET` that would repeat it is skipped. It
is forgotten wherever django-tenants forgets its own (the connection closed, a rollback, a rollback
to a savepoint: the database may have undone the `SET`) and when a `SET` fails, so the next query
sets it again.
Nothing else here sets the path (only django-tenants does); not for a transaction-pooling proxy
(PgBouncer), as TENANT_LIMIT_SET_CALLS is not.

The health check Django runs before a request's first statement (CONN_HEALTH_CHECKS) asks the
socket first: an idle, healthy session has nothing to read, while a server that ended the session
(restarted, terminated the backend, crashed) has sent its last message or closed the socket, which
makes it readable. Only then is Django's `SELECT 1` sent (it also reads a stray notice). Under load
this saves a round trip per request: a search by id made seven.

`cursor_any_schema()` gives a cursor without setting the path at all, for the statements that name
every table with its schema (the caller's API key, read before the tenant is known).
"""

import select

from django.utils.asyncio import async_unsafe
from django_tenants.postgresql_backend import base


class DatabaseWrapper(base.DatabaseWrapper):
    search_path_set_schemas: list[str] | None  # django-tenants': the path it last set (None: set it)

    def __init__(self, *args, **kwargs):
        # The path the database session has, and the session (psycopg connection) it was set on.
        self.session_search_path: tuple[object, list[str]] | None = None
        super().__init__(*args, **kwargs)

    def _handle_search_path(self, cursor=None):
        if not self._setting_search_path and self.search_path_set_schemas is None and self.schema_name:
            wanted = self._get_cursor_search_paths()
            if self.connection is not None and self.session_search_path == (self.connection, wanted):
                self.search_path_set_schemas = wanted
                return
        super()._handle_search_path(cursor)
        if not self._setting_search_path:
            paths = self.search_path_set_schemas
            self.session_search_path = None if paths is None else (self.connection, paths)

    def is_usable(self):
        session = self.connection
        if session is None or session.closed:
            return False
        try:
            readable, _, _ = select.select([session.fileno()], [], [], 0)
        except (OSError, ValueError):  # the socket is gone
            return False
        return not readable or super().is_usable()

    @async_unsafe
    def cursor_any_schema(self):
        """A cursor for statements that name each table's schema: no `SET search_path` before them
        (the connection's health check, as before any first statement, still runs)."""
        return super(base.DatabaseWrapper, self)._cursor()

    def close(self):
        self.session_search_path = None
        super().close()

    def rollback(self):
        self.session_search_path = None
        super().rollback()

    def savepoint_rollback(self, sid):
        try:
            super().savepoint_rollback(sid)
        finally:
            self.session_search_path = None
