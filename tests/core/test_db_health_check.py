"""The connection's health check before a request's first statement (deeplens/db/base.py): the
socket is asked first, and `SELECT 1` is sent only when the server has said something."""

from django.db import connection, connections
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper

from tests.support.waiting import eventually


def _checks_sent(monkeypatch) -> list[int]:
    sent: list[int] = []
    select_one = PostgresWrapper.is_usable

    def counting(self):
        sent.append(1)
        return select_one(self)

    monkeypatch.setattr(PostgresWrapper, "is_usable", counting)
    return sent


def test_a_healthy_idle_session_is_usable_without_a_round_trip(db, monkeypatch):
    sent = _checks_sent(monkeypatch)
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        with other.cursor() as cursor:
            cursor.execute("SELECT 1")
        assert other.is_usable()
        assert sent == []
    finally:
        other.close()


def test_a_session_the_server_ended_is_not_usable(db, monkeypatch):
    """As after a restart of PostgreSQL: the backend is terminated, its FATAL message makes the socket
    readable, and the check (now with its SELECT 1) fails, so Django opens a new connection."""
    sent = _checks_sent(monkeypatch)
    other = connections.create_connection("default")
    try:
        other.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [other.connection.info.backend_pid])
            assert cursor.fetchone()[0]
        eventually(
            lambda: not other.is_usable(), timeout=10, message="the ended session was not found unusable"
        )
        assert sent  # the socket said something: the SELECT 1 was sent and failed
        other.close()
        other.ensure_connection()
        assert other.is_usable()
    finally:
        other.close()


def test_a_closed_session_is_not_usable(db):
    other = connections.create_connection("default")
    other.ensure_connection()
    other.connection.close()
    assert not other.is_usable()
    other.close()
