"""`make run`'s runtime: embedded servers, migrations, seed, web + worker + beat, clean stop."""

import json
import os
import subprocess
import sys

import psycopg
import pytest

from deeplens.embedded import port_is_open
from tests.runtime.product import ROOT, Product
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow


def schemas(pgdata) -> set[str]:
    url = f"postgresql://postgres@/deeplens?host={pgdata}"
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT nspname FROM pg_namespace")}


def test_run_starts_everything_stops_cleanly_and_keeps_its_data(tmp_path):
    product = Product(tmp_path / "var")

    log = product.start()
    status, ready = product.get_json("/readyz")
    assert (status, ready["status"], ready["failing"]) == (200, "ok", [])
    assert "http://demo.localhost:" in log
    assert "admin@demo.local / demo-admin" in log
    assert {"public", "extensions", "demo"} <= schemas(tmp_path / "var" / "postgres")
    redis_port = _redis_port(product)

    assert product.stop() == 0
    assert "[deeplens] stopped" in product.log()
    assert not (tmp_path / "var" / "postgres" / "postmaster.pid").exists()
    assert not port_is_open(redis_port)
    assert not port_is_open(product.port)
    assert not (tmp_path / "var" / "run" / "services.json").exists()

    # A second run reuses the data: the demo tenant is not provisioned again.
    second = Product(tmp_path / "var")
    log = second.start()
    assert "Provisioned tenant demo" not in log
    assert second.get_json("/readyz")[0] == 200
    assert second.stop() == 0


def _redis_port(product: Product) -> int:
    state = json.loads((product.data_dir / "run" / "services.json").read_text())
    return int(state["REDIS_URL"].rsplit(":", 1)[1].split("/")[0])


@pytest.mark.parametrize(
    ("variable", "url", "message"),
    [
        ("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/deeplens", "Cannot reach PostgreSQL"),
        ("REDIS_URL", "redis://127.0.0.1:1/0", "Cannot reach Redis"),
    ],
)
def test_run_names_an_unreachable_server_and_exits_non_zero(tmp_path, variable, url, message):
    env = dict(os.environ, DEEPLENS_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="deeplens.settings.local")
    env[variable] = url

    result = subprocess.run(
        [sys.executable, "-m", "deeplens.runner"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert message in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_run_restarts_a_killed_worker_and_redis_and_stays_ready(tmp_path):
    import psutil

    product = Product(tmp_path / "var")
    product.start()
    try:
        children = psutil.Process(product.process.pid).children()
        worker = next(p for p in children if "worker" in p.cmdline() and "celery" in " ".join(p.cmdline()))
        redis_server = next(p for p in children if p.name() == "redis-server")

        worker.kill()
        redis_server.kill()
        eventually(
            lambda: "worker restarted" in product.log() and "answers again" in product.log(),
            timeout=60,
            interval=0.2,
            message=product.log,
        )
        eventually(
            lambda: product.get_json("/readyz")[0] == 200, timeout=60, interval=0.5, message=product.log
        )

        assert "worker was killed by SIGKILL (exit code -9)" in product.log()
        assert "the server the runner started was killed by SIGKILL" in product.log()
        assert product.process.poll() is None
        assert (product.data_dir / "log" / "worker.log").read_text().count("[deeplens] worker restarted") == 1
    finally:
        assert product.stop() == 0
