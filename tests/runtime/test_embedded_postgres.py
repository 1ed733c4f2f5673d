"""The embedded PostgreSQL's buffer cache: sized for the machine, applied with one restart."""

import psycopg
import pytest

from deeplens import embedded
from deeplens.embedded import EmbeddedPostgres


def _machine(monkeypatch, gib: float) -> None:
    pages = int(gib * 2**30 / 4096)
    monkeypatch.setattr(embedded.os, "sysconf", lambda name: 4096 if name == "SC_PAGE_SIZE" else pages)


@pytest.mark.parametrize(
    ("gib", "expected_mb"),
    [(0.25, 128), (2, 512), (24, 4096), (256, 4096)],
)
def test_shared_buffers_are_a_quarter_of_the_memory_between_128_mb_and_4_gb(monkeypatch, gib, expected_mb):
    monkeypatch.delenv("DEEPLENS_POSTGRES_SHARED_BUFFERS_MB", raising=False)
    _machine(monkeypatch, gib)

    assert embedded.shared_buffers_mb() == expected_mb


def test_shared_buffers_given_in_the_environment_win(monkeypatch):
    _machine(monkeypatch, 24)
    monkeypatch.setenv("DEEPLENS_POSTGRES_SHARED_BUFFERS_MB", "300")

    assert embedded.shared_buffers_mb() == 300


@pytest.mark.parametrize("given", ["lots", "8", "-200"])
def test_a_shared_buffers_size_that_is_no_size_is_refused_with_its_name(monkeypatch, given):
    monkeypatch.setenv("DEEPLENS_POSTGRES_SHARED_BUFFERS_MB", given)

    with pytest.raises(embedded.ServiceError, match="DEEPLENS_POSTGRES_SHARED_BUFFERS_MB"):
        embedded.shared_buffers_mb()


def _shared_buffers(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute("SHOW shared_buffers").fetchone()[0]


def test_the_server_restarts_once_to_take_its_shared_buffers_and_not_again(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPLENS_POSTGRES_SHARED_BUFFERS_MB", "160")
    server = EmbeddedPostgres(tmp_path)
    said: list[str] = []
    try:
        url = server.start(timeout=60, on_wait=said.append)
        assert _shared_buffers(url) == "160MB"
        assert any("shared_buffers 160MB, restarting" in line for line in said)

        said.clear()
        EmbeddedPostgres(tmp_path).start(timeout=60, on_wait=said.append)  # the same size: as it is
        assert not any("restarting" in line for line in said)

        monkeypatch.setenv("DEEPLENS_POSTGRES_SHARED_BUFFERS_MB", "192")
        url = EmbeddedPostgres(tmp_path).start(timeout=60, on_wait=said.append)
        assert _shared_buffers(url) == "192MB"
    finally:
        server.stop()
