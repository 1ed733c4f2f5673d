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
