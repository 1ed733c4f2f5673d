"""`make run`: the whole product in one terminal.

    python -m deeplens.runner            start everything, print the URLs; Ctrl-C stops it all
    python -m deeplens.runner services   only the embedded PostgreSQL and Redis
    python -m deeplens.runner manage ARGS...   a manage.py command against the embedded servers

With DATABASE_URL / REDIS_URL unset, the embedded servers start from the data directory
(DEEPLENS_DATA_DIR, default ./var) and keep their data there; with them set, nothing is started.
Then: migrate the shared and tenant schemas, seed the demo (idempotent), start the web server, a
Celery worker for every queue and Celery beat.

Faults (README "What happens when something fails"): a child that exits is started again after a
backoff (1 s doubling to 30 s, reset once it has run for a minute); only a crash loop (5 exits of one
child within 2 minutes) stops everything. The embedded PostgreSQL and Redis are pinged every second
and started again on the same socket / port when they die. Each child's output also goes to
var/log/<name>.log.
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
from dataclasses import dataclass
from pathlib import Path

from deeplens.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    ServiceError,
    postgres_is_starting,
    postgres_ping,
    redis_is_loading,
    redis_ping,
    start_timeout,
    wait_until_serving,
)
from deeplens.settings.env import BASE_DIR, data_dir, env_int, env_str, state_file
from deeplens.supervisor import CrashLoop, Server, ServiceWatcher, Supervisor, say

PYTHON = sys.executable


def check_database(url: str, timeout: float | None = None) -> None:
    """A given PostgreSQL: wait while it says it is starting up; anything else fails at once."""
    wait_until_serving(
        f"PostgreSQL at {url}",
        lambda: postgres_ping(url, timeout=5),
        timeout=start_timeout() if timeout is None else timeout,
        retry=postgres_is_starting,
        on_wait=say,
    )


def check_redis(url: str, timeout: float | None = None) -> None:
    """A given Redis: wait while it answers LOADING; anything else (refused...) fails at once."""
    wait_until_serving(
        f"Redis at {url}",
        lambda: redis_ping(url, timeout=3),
        timeout=start_timeout() if timeout is None else timeout,
        retry=redis_is_loading,
        on_wait=say,
    )


@dataclass
class Backing:
    """The URLs the product uses, and the watcher of the embedded servers started for them."""

    urls: dict
    watcher: ServiceWatcher


@contextmanager
def backing_services(*, reuse_running: bool = False):
    """Yield a Backing; start the embedded servers for whichever URL is unset (waiting until they
    serve) and stop them (data kept) when the block ends. With reuse_running, the servers of a
    DeepLens already running from the same data directory are used instead."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    urls = {"DATABASE_URL": env_str("DATABASE_URL"), "REDIS_URL": env_str("REDIS_URL")}
    given = {name for name, url in urls.items() if url}
    state = state_file()
    if state.exists():
        previous = json.loads(state.read_text() or "{}")
        if previous.get("pid") and _pid_alive(previous["pid"]):
            if reuse_running:
                yield Backing({name: urls[name] or previous[name] for name in urls}, ServiceWatcher({}))
                return
            raise ServiceError(
                f"DeepLens is already running from {data_dir()} (pid {previous['pid']}). "
                "Stop it first, or set DEEPLENS_DATA_DIR to use another data directory."
            )
    watched: dict[str, Server] = {}
    try:
        if not urls["DATABASE_URL"]:
            postgres = EmbeddedPostgres(data_dir())
            say(f"starting the embedded PostgreSQL (data in {postgres.pgdata})")
            started.append(postgres)
            urls["DATABASE_URL"] = postgres.start(on_wait=say)
            watched[f"PostgreSQL in {postgres.pgdata}"] = postgres
        if not urls["REDIS_URL"]:
            redis_server = EmbeddedRedis(data_dir(), port=env_int("DEEPLENS_REDIS_PORT", 0) or None)
            say(f"starting the embedded Redis on port {redis_server.port}")
            started.append(redis_server)
            urls["REDIS_URL"] = redis_server.start(on_wait=say)
            watched[f"Redis on port {redis_server.port}"] = redis_server
        if "DATABASE_URL" in given:
            check_database(urls["DATABASE_URL"])
        if "REDIS_URL" in given:
            check_redis(urls["REDIS_URL"])
        if started:
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps({**urls, "pid": os.getpid()}))
        yield Backing(urls, ServiceWatcher(watched))
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


def wait_until_ready(port: int, supervisor: Supervisor, watcher: ServiceWatcher, timeout: float = 90) -> dict:
    """Wait for the web server's /readyz, restarting children and servers meanwhile."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        supervisor.poll()
        watcher.tick()
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


def serve(env: dict, port: int, bind: str, watcher: ServiceWatcher) -> int:
    """Start web, worker and beat and keep them (and the embedded servers) running; return on
    Ctrl-C/SIGTERM (0) or when one of them is in a crash loop (1)."""
    supervisor = Supervisor(env, log_dir=data_dir() / "log", cwd=BASE_DIR)
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
        ready = wait_until_ready(port, supervisor, watcher)
        say(f"ready: {json.dumps(ready['checks'])}")
        print(banner(port), flush=True)
        while True:
            supervisor.poll()
            watcher.tick()
            time.sleep(0.5)
    except CrashLoop as exc:
        say(f"error: {exc}")
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
        with backing_services() as backing:
            env = child_env(backing.urls)
            metrics_dir_reset(env)
            say("migrating the shared and tenant schemas")
            manage(env, "migrate_schemas", "--executor", "standard", "-v", "0")
            manage(env, "deeplens_bootstrap")
            code = serve(env, port, bind, backing.watcher)
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
        with backing_services() as backing:
            for name, url in backing.urls.items():
                print(f"{name}={url}", flush=True)
            say("embedded servers running; Ctrl-C stops them")
            while True:
                backing.watcher.tick()
                time.sleep(0.5)
    except Interrupted:
        return 0
    except ServiceError as exc:
        say(f"error: {exc}")
        return 2


def manage_command(args: list[str]) -> int:
    try:
        with backing_services(reuse_running=True) as backing:
            env = child_env(backing.urls)
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
