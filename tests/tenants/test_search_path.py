"""TENANT_LIMIT_SET_CALLS (deeplens/settings/base.py): `SET search_path` is sent once per connection
and schema, not before every query, and never trusted after a switch of tenant or a rollback that
undid it."""

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context


def _search_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return cursor.fetchone()[0]


def test_the_path_is_set_once_for_several_queries(alpha):
    assert settings.TENANT_LIMIT_SET_CALLS
    with tenant_context(alpha), CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            assert _search_path().startswith(alpha.schema_name)
    statements = [q["sql"] for q in captured.captured_queries]
    assert sum(sql.startswith("SET search_path") for sql in statements) == 1, statements


def test_each_switch_of_tenant_sets_the_path_again(alpha, beta):
    with tenant_context(alpha):
        assert _search_path().startswith(alpha.schema_name)
        with tenant_context(beta):
            assert _search_path().startswith(beta.schema_name)
        assert _search_path().startswith(alpha.schema_name)


class Undone(Exception):
    pass


def test_a_path_undone_by_a_rollback_is_set_again(alpha, beta):
    with tenant_context(alpha):
        assert _search_path().startswith(alpha.schema_name)
        with pytest.raises(Undone), transaction.atomic():
            connection.set_tenant(beta)
            assert _search_path().startswith(beta.schema_name)  # SET inside the savepoint
            raise Undone  # the savepoint's rollback restores alpha's path in the database
        # The connection still says beta: the next query sets beta's path again, not trusting it.
        assert connection.schema_name == beta.schema_name
        assert _search_path().startswith(beta.schema_name)


def _sets(captured) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SET search_path")]


def test_choosing_the_tenant_the_session_already_has_sets_no_path(alpha, beta):
    """deeplens/db/base.py: every request selects the public schema, then its tenant; the database
    session keeps the last path, so a request to the tenant before it sends no SET."""
    with tenant_context(alpha):
        assert _search_path().startswith(alpha.schema_name)
        with CaptureQueriesContext(connection) as captured:
            connection.set_schema_to_public()
            connection.set_tenant(alpha)
            assert _search_path().startswith(alpha.schema_name)
        assert _sets(captured) == []
        with CaptureQueriesContext(connection) as captured:
            connection.set_tenant(beta)  # another tenant: set, as always
            assert _search_path().startswith(beta.schema_name)
        assert len(_sets(captured)) == 1


def test_the_api_key_is_read_in_public_without_changing_the_path(alpha, users):
    """The tenant middleware reads the caller's key while the public schema is selected; its
    statement names the public tables, so the session keeps the tenant's path."""
    from apps.accounts.credential_rows import api_key_by_prefix
    from apps.accounts.models import Role
    from apps.accounts.services.api_keys import api_key_parse
    from tests.api import api_key_for

    raw = api_key_for(tenant=alpha, creator=users[Role.ADMIN], scopes=["search"]).split(" ", 1)[1]
    with tenant_context(alpha):
        assert _search_path().startswith(alpha.schema_name)
        with CaptureQueriesContext(connection) as captured:
            connection.set_schema_to_public()
            key = api_key_by_prefix(api_key_parse(raw)[0])
            with connection.cursor_any_schema() as cursor:
                cursor.execute("SHOW search_path")
                still = cursor.fetchone()[0]
            connection.set_tenant(alpha)
            assert _search_path().startswith(alpha.schema_name)
    assert key is not None and key.tenant_id == alpha.pk
    assert still.startswith(alpha.schema_name)
    assert _sets(captured) == []
