"""What keeps `make run` up: the Supervisor restarts the product's processes when they exit, the
ServiceWatcher brings the embedded PostgreSQL and Redis back when they die.

Supervisor: a child that exits (crash, OOM kill, `kill -9`) is started again after a backoff that
starts at 1 s and doubles to 30 s, and starts over once the child has stayed up for a minute. Only
a crash loop (5 exits of one child within 2 minutes) gives up: CrashLoop names the child and its log.
Every child's output goes to the terminal and to <log_dir>/<name>.log.

ServiceWatcher: pings each embedded server every second. One that does not answer and whose process
is gone is started again (same port, same data folder, so clients reconnect), retrying with the same
backoff; one that is alive but not answering yet (loading its AOF, recovering) is waited for. A Redis
that someone started again by hand on the port answers the ping, so it is used, not started twice.
"""

import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from deeplens.embedded import ServiceError


def say(message: str) -> None:
    print(f"[deeplens] {message}", flush=True)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name} (exit code {code})"
        except ValueError:
            return f"was killed by signal {-code} (exit code {code})"
    return f"exited with code {code}"


class CrashLoop(ServiceError):
    """A child kept crashing; the message names it and points at its log."""


@dataclass
class Child:
    name: str
    command: list[str]
    log_path: Path
    delay: float
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    exits: deque = field(default_factory=deque)
    copier: threading.Thread | None = None


class Supervisor:
    """Starts the product's processes, restarts the ones that exit, stops them all together."""

    def __init__(
        self,
        env: dict,
        *,
        log_dir: Path,
        cwd: Path | None = None,
        backoff_start: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
        crash_limit: int = 5,
        crash_window: float = 120.0,
    ):
        self.env = env
        self.log_dir = Path(log_dir)
        self.cwd = cwd
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.crash_limit = crash_limit
        self.crash_window = crash_window
        self.children: dict[str, Child] = {}

    @property
    def processes(self) -> dict[str, subprocess.Popen]:
        return {name: child.process for name, child in self.children.items() if child.process is not None}

    def start(self, name: str, command: list[str]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        child = Child(name, command, self.log_dir / f"{name}.log", delay=self.backoff_start)
        self.children[name] = child
        self._spawn(child)

    def _spawn(self, child: Child) -> subprocess.Popen:
        log = open(child.log_path, "ab")  # noqa: SIM115 - the copier thread owns and closes it
        process = child.process = subprocess.Popen(
            child.command,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.copier = threading.Thread(
            target=_copy_output, args=(process.stdout, log), name=f"output-{child.name}", daemon=True
        )
        child.copier.start()
        return process

    def _note(self, child: Child, message: str) -> None:
        """Say it, and write it into the child's log next to its own output."""
        say(message)
        with open(child.log_path, "a") as log:
            log.write(f"[deeplens] {message}\n")

    def poll(self) -> None:
        """Restart the children whose backoff has passed, schedule those that exited; raise CrashLoop
        when one has exited crash_limit times within crash_window seconds."""
        now = time.monotonic()
        for child in self.children.values():
            if child.restart_at is not None:
                if now >= child.restart_at:
                    process = self._spawn(child)
                    self._note(child, f"{child.name} restarted (pid {process.pid})")
                continue
            code = child.process.poll() if child.process is not None else None
            if code is None:
                continue
            if now - child.started_at >= self.stable_after:
                child.delay = self.backoff_start
            child.exits.append(now)
            while child.exits and child.exits[0] < now - self.crash_window:
                child.exits.popleft()
            if len(child.exits) >= self.crash_limit:
                self._note(child, f"{child.name} {describe_exit(code)}; giving up")
                raise CrashLoop(
                    f"{child.name} exited {len(child.exits)} times within {self.crash_window:.0f} s "
                    f"(last: {describe_exit(code)}); stopping everything. Its output is in {child.log_path}; "
                    f"the last lines:\n{_tail(child.log_path)}"
                )
            self._note(
                child,
                f"{child.name} {describe_exit(code)} after {now - child.started_at:.1f} s; restarting it in "
                f"{child.delay:g} s ({len(child.exits)} of {self.crash_limit} exits allowed within "
                f"{self.crash_window:.0f} s; its log: {child.log_path})",
            )
            child.restart_at = now + child.delay
            child.delay = min(child.delay * 2, self.backoff_max)

    def stop(self, timeout: float = 20) -> None:
        running = [
            (child, child.process)
            for child in self.children.values()
            if child.process is not None and child.process.poll() is None
        ]
        for _, process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child, process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop in time; killing it")
                process.kill()
                process.wait()
        for child in self.children.values():
            if child.copier is not None:
                child.copier.join(timeout=2)


def _copy_output(stream: IO[bytes], log: IO[bytes]) -> None:
    """A child's output, line by line, to the terminal and to its log file."""
    with stream, log:
        for line in iter(stream.readline, b""):
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()
            log.write(line)
            log.flush()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text[-lines:])


class Server(Protocol):
    """What the watcher needs of an embedded server (EmbeddedPostgres, EmbeddedRedis)."""

    def running(self) -> bool: ...

    def ping(self) -> str | None: ...

    def spawn(self) -> None: ...

    def reap(self) -> int | None: ...


@dataclass
class Watched:
    name: str
    server: Server
    healthy: bool = True
    down_since: float = 0.0
    next_try: float = 0.0
    delay: float = 1.0
    tries: int = 0


class ServiceWatcher:
    """Pings the embedded servers every `interval` seconds; restarts one that is down and gone."""

    def __init__(
        self,
        servers: dict[str, Server],
        *,
        interval: float = 1.0,
        backoff_start: float = 1.0,
        backoff_max: float = 30.0,
    ):
        self.watched = [Watched(name, server, delay=backoff_start) for name, server in servers.items()]
        self.interval = interval
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self._next_check = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.interval
        for watched in self.watched:
            self._check(watched, now)

    def _check(self, watched: Watched, now: float) -> None:
        server = watched.server
        error = server.ping()
        exit_code = server.reap()
        if exit_code is not None:
            say(f"{watched.name}: the server the runner started {describe_exit(exit_code)}")
        if error is None:
            if not watched.healthy:
                source = "" if server.running() else " (a server the runner did not start; using it)"
                down = now - watched.down_since
                say(f"{watched.name} answers again{source}, {down:.1f} s after it went down")
            elif exit_code is not None:
                say(
                    f"{watched.name}: another server answers on its port (started by hand?); "
                    "using it, not starting another"
                )
            watched.healthy = True
            watched.delay = self.backoff_start
            watched.tries = 0
            return
        if watched.healthy:
            say(f"{watched.name} does not answer: {error}")
            watched.healthy = False
            watched.down_since = now
            watched.next_try = now
        if server.running() or now < watched.next_try:
            return  # alive (starting, loading its data, recovering), or waiting for the next try
        watched.tries += 1
        say(f"{watched.name} is not running; starting it again (try {watched.tries})")
        try:
            server.spawn()
        except ServiceError as exc:
            say(f"{watched.name} did not start: {exc}; next try in {watched.delay:g} s")
        watched.next_try = now + watched.delay
        watched.delay = min(watched.delay * 2, self.backoff_max)
