"""Rows made once for a whole test module, rolled back after it.

A module-scoped fixture opens a transaction, makes its rows (users, credentials, images) and yields;
each test then runs in a savepoint inside it (pytest-django's `db`), so what a test changes is undone
and the next test sees the module's rows as they were made. Nothing is committed: other modules and
the Celery worker never see these rows.
"""

from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def module_transaction(django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        # Like django.test.TestCase's own atomics: a durable block inside a test stays allowed.
        atomic._from_testcase = True
        atomic.__enter__()
        try:
            yield
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            connection.set_schema_to_public()
