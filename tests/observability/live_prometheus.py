"""A real Prometheus (Debian's package) and real DeepLens web servers on loopback, for the alert tests:
the docker/ configuration with loopback targets, started and stopped by the test."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from deeplens.embedded import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "docker" / "prometheus"
T = TypeVar("T")


def prometheus_binaries() -> tuple[str, str]:
    """prometheus and promtool; a skip where they are missing, a failure in CI (make test installs them)."""
    found = shutil.which("prometheus"), shutil.which("promtool")
    if None in found:
        message = "Debian's prometheus package is not installed: run `make system-deps` (make test does)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found  # type: ignore[return-value]


def wait_for(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.25) -> T:
    """check() until it returns something truthy (tests/support/waiting.py's eventually)."""
    return eventually(check, timeout=timeout, interval=interval, message=what)  # type: ignore[arg-type]


def http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@dataclass
class WebServer:
    """gunicorn serving DeepLens on 127.0.0.1:port with the given environment."""

    name: str
    env: dict
    log_path: Path
    port: int = 0
    process: subprocess.Popen | None = None

    def start(self) -> "WebServer":
        self.port = free_port()
        log = open(self.log_path, "w")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "deeplens.wsgi:application"),
                *("--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4", "--timeout", "60"),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_serving(self, timeout: float = 30) -> None:
        def serving():
            assert self.process.poll() is None, f"{self.name} exited:\n{self.log_path.read_text()}"
            return http_get(f"http://{self.target}/metrics")[0] == 200

        wait_for(f"{self.name} serving /metrics", serving, timeout)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def rules_with_short_for(rules_text: str, for_duration: str) -> str:
    """alerts.yml with every `for:` set to `for_duration`, so a test sees in seconds what an operator
    sees after minutes. Expressions, thresholds and labels stay as written."""
    changed, count = re.subn(r"(?m)^(\s+for:\s*)\S+\s*$", rf"\g<1>{for_duration}", rules_text)
    assert count == rules_text.count("\n        for:"), "a `for:` the override did not reach"
    return changed


def loopback_config(*, web_targets: list[str], prometheus_target: str, interval: str) -> dict:
    """docker/prometheus/prometheus.yml with its jobs and rule files kept, loopback targets instead of
    the compose services' (no worker metrics port runs in the tests) and a short interval."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval=interval, evaluation_interval=interval, scrape_timeout=interval)
    targets = {"deeplens-web": web_targets, "deeplens-worker": [], "prometheus": [prometheus_target]}
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": targets[job["job_name"]]}] if targets[job["job_name"]] else []
    return config


@dataclass
class Prometheus:
    binary: str
    workdir: Path
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, config: dict, rules_text: str) -> "Prometheus":
        """Starts it on a free loopback port with a fresh storage folder; the rules sit beside the
        config under the name the config gives them."""
        (self.workdir / "data").mkdir(parents=True)
        for name in config["rule_files"]:
            (self.workdir / name).write_text(rules_text)
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log_path = self.workdir / "prometheus.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address={self.target}",
            ],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        def ready():
            assert self.process.poll() is None, f"prometheus exited:\n{self.log_path.read_text()}"
            return http_get(f"http://{self.target}/-/ready")[0] == 200

        wait_for("prometheus ready", ready, timeout)

    def api(self, path: str) -> dict:
        status, body = http_get(f"http://{self.target}/api/v1/{path}")
        assert status == 200, (path, status, body[:500])
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        return answer["data"]

    def rules(self) -> list[dict]:
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def alerts(self) -> list[dict]:
        return self.api("alerts")["alerts"]

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)


def committed(fn: Callable[[], T]) -> T:
    """fn() on a database connection of its own (a thread), outside the test's transaction: what it
    writes is committed at once, its on_commit hooks run, and other processes see it."""
    import threading

    from django.db import connection

    results: list = []
    errors: list[BaseException] = []

    def run():
        try:
            results.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if errors:
        raise errors[0]
    assert results, "the committed block did not finish within 120 s"
    return results[0]
