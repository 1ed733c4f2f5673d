"""Prepared statements (apps/core/prepared.py): planned once per database session, and still each
tenant's own tables when one session serves several tenants."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from apps.core.prepared import Prepared, execute_prepared, execute_prepared_together
from apps.search.selectors import images_for_results
from tests.query_counts import image_rows


def test_one_session_prepares_once_and_reads_each_tenants_own_rows(alpha, beta):
    with tenant_context(alpha):
        ours = str(image_rows(1, tenant=alpha)[0].pk)
    with tenant_context(beta):
        theirs = str(image_rows(1, tenant=beta)[0].pk)

    with tenant_context(alpha):
        assert list(images_for_results([ours, theirs], metadata=False)) == [ours]
    with tenant_context(beta), CaptureQueriesContext(connection) as again:
        assert list(images_for_results([ours, theirs], metadata=False)) == [theirs]
        assert list(images_for_results([ours, theirs], metadata=False)) == [theirs]

    statements = [q["sql"] for q in again.captured_queries]
    assert not any(sql.startswith("PREPARE") for sql in statements), statements  # prepared in alpha
    assert sum(sql.startswith("EXECUTE") for sql in statements) == 2


def test_a_statement_gets_one_type_per_placeholder(db):
    with connection.cursor() as cursor:
        with pytest.raises(ValueError, match="one type per"):
            execute_prepared(cursor, "SELECT %s, %s", [1, 2], ["int"])
        with pytest.raises(ValueError, match="one type per"):
            execute_prepared(cursor, "SELECT %s LIKE 'a%%'", ["a"], ["text"])


def test_statements_run_together_in_one_message(db):
    statements = [Prepared("SELECT %s + 1", [1], ["int"]), Prepared("SELECT %s || 'b'", ["a"], ["text"])]
    with connection.cursor() as cursor:
        execute_prepared_together(cursor, statements)  # prepares both
    with CaptureQueriesContext(connection) as again, connection.cursor() as cursor:
        execute_prepared_together(cursor, statements)
        assert cursor.fetchall() == [(2,)]
        assert cursor.nextset()
        assert cursor.fetchall() == [("ab",)]
    assert len(again.captured_queries) == 1
    assert again.captured_queries[0]["sql"].count("EXECUTE") == 2
