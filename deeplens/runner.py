"""`make run`: the whole product in one terminal.

    python -m deeplens.runner            start everything, print the URLs; Ctrl-C stops it all
    python -m deeplens.runner services   only the embedded PostgreSQL and Redis
    python -m deeplens.runner manage ARGS...   a manage.py command against the embedded servers

With DATABASE_URL / REDIS_URL unset, the embedded servers start from the data directory
(DEEPLENS_DATA_DIR, default ./var) and keep their data there; with them set, nothing is started.
Then: migrate the shared and tenant schemas, seed the demo (idempotent), start the web server, a
Celery worker for every queue and Celery beat.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from deeplens.embedded import EmbeddedPostgres, EmbeddedRedis, ServiceError
from deeplens.settings.env import BASE_DIR, data_dir, env_int, env_str, state_file

PYTHON = sys.executable


def say(message: str) -> None:
    print(f"[deeplens] {message}", flush=True)


def check_database(url: str) -> None:
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise ServiceError(f"Cannot reach PostgreSQL at {url}: {exc}".strip()) from exc


def check_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ServiceError(f"Cannot reach Redis at {url}: {exc}") from exc
    finally:
        client.close()


@contextmanager
def backing_services(*, reuse_running: bool = False):
    """Yield {DATABASE_URL, REDIS_URL}; start the embedded servers for whichever is unset and stop
    them (data kept) when the block ends. With reuse_running, the servers of a DeepLens already
    running from the same data directory are used instead."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    urls = {"DATABASE_URL": env_str("DATABASE_URL"), "REDIS_URL": env_str("REDIS_URL")}
    state = state_file()
    if state.exists():
        previous = json.loads(state.read_text() or "{}")
        if previous.get("pid") and _pid_alive(previous["pid"]):
            if reuse_running:
                yield {name: urls[name] or previous[name] for name in urls}
                return
            raise ServiceError(
                f"DeepLens is already running from {data_dir()} (pid {previous['pid']}). "
                "Stop it first, or set DEEPLENS_DATA_DIR to use another data directory."
            )
    try:
        if not urls["DATABASE_URL"]:
            postgres = EmbeddedPostgres(data_dir())
            say(f"starting the embedded PostgreSQL (data in {postgres.pgdata})")
            urls["DATABASE_URL"] = postgres.start()
            started.append(postgres)
        if not urls["REDIS_URL"]:
            redis_server = EmbeddedRedis(data_dir(), port=env_int("DEEPLENS_REDIS_PORT", 0) or None)
            say(f"starting the embedded Redis on port {redis_server.port}")
            urls["REDIS_URL"] = redis_server.start()
            started.append(redis_server)
        check_database(urls["DATABASE_URL"])
        check_redis(urls["REDIS_URL"])
        if started:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({**urls, "pid": os.getpid()}))
        yield urls
    finally:
        _ignore_signals()
        for service in reversed(started):
            service.stop()
        if started:
            state.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def child_env(urls: dict) -> dict:
    env = dict(os.environ)
    env.update(urls)
    env.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")
    env["PYTHONUNBUFFERED"] = "1"
    # The web server's and the workers' processes write their metrics here; /metrics adds them up.
    # Always this data directory's folder: the runner empties it at start.
    env["PROMETHEUS_MULTIPROC_DIR"] = str(data_dir() / "run" / "prometheus")
    return env


def metrics_dir_reset(env: dict) -> None:
    """Counters start from zero with every start (files of processes gone would add up forever)."""
    folder = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def manage(env: dict, *args: str) -> None:
    subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], env=env, cwd=BASE_DIR, check=True)


class Supervisor:
    """Starts the product's processes and stops them all together."""

    def __init__(self, env: dict):
        self.env = env
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(command, env=self.env, cwd=BASE_DIR, start_new_session=True)

    def exited(self) -> tuple[str, int] | None:
        for name, process in self.processes.items():
            code = process.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, timeout: float = 20) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                process.kill()
                process.wait()


def wait_until_ready(port: int, supervisor: Supervisor, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if (exited := supervisor.exited()) is not None:
            raise ServiceError(f"{exited[0]} exited with code {exited[1]} while starting.")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last_error = exc.read().decode(errors="replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last_error = str(exc)
        time.sleep(0.5)
    raise ServiceError(f"The web server was not ready within {timeout:.0f} s: {last_error}")


def banner(port: int) -> str:
    base = env_str("DEEPLENS_BASE_DOMAIN", "localhost")
    return "\n".join(
        [
            "",
            "  DeepLens is running.",
            f"    Demo workspace:  http://demo.{base}:{port}/",
            f"      tenant admin   {env_str('DEEPLENS_DEMO_ADMIN_EMAIL', 'admin@demo.local')}"
            f" / {env_str('DEEPLENS_DEMO_ADMIN_PASSWORD', 'demo-admin')}",
            f"      member         {env_str('DEEPLENS_DEMO_MEMBER_EMAIL', 'member@demo.local')}"
            f" / {env_str('DEEPLENS_DEMO_MEMBER_PASSWORD', 'demo-member')}",
            f"    Global admin:    http://{base}:{port}/admin/",
            f"      global admin   {env_str('DEEPLENS_SUPERUSER_EMAIL', 'admin@deeplens.local')}"
            f" / {env_str('DEEPLENS_SUPERUSER_PASSWORD', 'deeplens-admin')}",
            f"    Health:          http://{base}:{port}/readyz",
            "  Press Ctrl-C to stop.",
            "",
        ]
    )


class Interrupted(Exception):
    pass


def _raise_interrupted(signum, frame):
    raise Interrupted


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def serve(env: dict, port: int, bind: str) -> int:
    """Start web, worker and beat; return when one of them exits (1) or on Ctrl-C (0)."""
    supervisor = Supervisor(env)
    try:
        supervisor.start(
            "web",
            [
                PYTHON,
                "-m",
                "gunicorn",
                "deeplens.wsgi:application",
                "--bind",
                f"{bind}:{port}",
                "--workers",
                str(env_int("DEEPLENS_WEB_WORKERS", 2)),
                "--threads",
                "4",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
            ],
        )
        supervisor.start(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "worker",
                "--queues",
                "ingest,thumbnails,embed,index,scan,maintenance",
                "--concurrency",
                str(env_int("DEEPLENS_WORKER_CONCURRENCY", 2)),
                "--loglevel",
                "INFO",
                "--hostname",
                "deeplens@%h",
            ],
        )
        supervisor.start(
            "beat",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(data_dir() / "run" / "celerybeat-schedule"),
            ],
        )
        ready = wait_until_ready(port, supervisor)
        say(f"ready: {json.dumps(ready['checks'])}")
        print(banner(port), flush=True)
        while (exited := supervisor.exited()) is None:
            time.sleep(0.5)
        say(f"{exited[0]} exited with code {exited[1]}; stopping everything")
        return 1
    except Interrupted:
        say("stopping")
        return 0
    finally:
        _ignore_signals()
        supervisor.stop()


def run() -> int:
    port = env_int("DEEPLENS_PORT", 8000)
    bind = env_str("DEEPLENS_BIND", "127.0.0.1")
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        with backing_services() as urls:
            env = child_env(urls)
            metrics_dir_reset(env)
            say("migrating the shared and tenant schemas")
            manage(env, "migrate_schemas", "--executor", "standard", "-v", "0")
            manage(env, "deeplens_bootstrap")
            code = serve(env, port, bind)
        say("stopped")
        return code
    except Interrupted:
        say("stopped")
        return 0
    except ServiceError as exc:
        say(f"error: {exc}")
        return 2
    except subprocess.CalledProcessError as exc:
        say(f"error: {' '.join(exc.cmd[1:3])} failed with code {exc.returncode}")
        return 2


def services() -> int:
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        with backing_services() as urls:
            for name, url in urls.items():
                print(f"{name}={url}", flush=True)
            say("embedded servers running; Ctrl-C stops them")
            while True:
                time.sleep(3600)
    except Interrupted:
        return 0
    except ServiceError as exc:
        say(f"error: {exc}")
        return 2


def manage_command(args: list[str]) -> int:
    try:
        with backing_services(reuse_running=True) as urls:
            env = child_env(urls)
            # A command's metrics (ingest_folder --process-now...) join those of a running DeepLens.
            Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
            return subprocess.run(
                [PYTHON, str(BASE_DIR / "manage.py"), *args], env=env, cwd=BASE_DIR
            ).returncode
    except ServiceError as exc:
        say(f"error: {exc}")
        return 2


def main(argv: list[str]) -> int:
    if not argv or argv[0] == "run":
        return run()
    if argv[0] == "services":
        return services()
    if argv[0] == "manage":
        return manage_command(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
