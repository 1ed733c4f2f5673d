"""The alert rules in docker/prometheus, checked by promtool and loaded into a real Prometheus (Debian's
package) that scrapes running DeepLens web servers on loopback every second.

promtool runs the rules' unit tests (docker/prometheus/alerts_test.yml) with their real thresholds and
`for:` durations. The live test gives every rule `for: 1s` (rules_with_short_for): what an operator
sees after minutes shows here in seconds; expressions and thresholds are the file's. It scrapes two
web servers: one on the test database, and one whose DATABASE_URL points at a closed port (a web server
that lost PostgreSQL), and freezes the real Celery worker (SIGSTOP) while images wait.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.accounts.models import Role
from apps.core.workers import HEARTBEAT_TTL
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_provision
from deeplens.embedded import free_port
from tests.api import Api, bearer_for, host
from tests.conftest import UNTHROTTLED, url_of_test_database
from tests.factories import UserFactory
from tests.imagefiles import jpeg
from tests.observability.live_prometheus import (
    PROMETHEUS_DIR,
    ROOT,
    Prometheus,
    WebServer,
    committed,
    loopback_config,
    prometheus_binaries,
    rules_with_short_for,
    wait_for,
)

ALERTS = PROMETHEUS_DIR / "alerts.yml"
WAITING_IMAGES = 3


def promtool(*args: str) -> subprocess.CompletedProcess:
    _prometheus, binary = prometheus_binaries()
    return subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_promtool_accepts_the_rules_and_the_config():
    rules = promtool("check", "rules", str(ALERTS))
    config = promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))

    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 12 rules found" in rules.stdout
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_rules_unit_tests_pass_with_the_real_thresholds_and_durations():
    result = promtool("test", "rules", str(PROMETHEUS_DIR / "alerts_test.yml"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_for_override_reaches_every_rule_and_nothing_else():
    text = ALERTS.read_text()
    rules = yaml.safe_load(rules_with_short_for(text, "1s"))["groups"][0]["rules"]
    original = yaml.safe_load(text)["groups"][0]["rules"]

    assert {rule["for"] for rule in rules} == {"1s"}
    assert [{**rule, "for": "1s"} for rule in original] == rules


def web_env(*, database_url: str, redis_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEEPLENS_METRICS")}
    env.update(
        DJANGO_SETTINGS_MODULE="deeplens.settings.test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DEEPLENS_METRICS_ALLOW_NETWORKS="127.0.0.1/32",
    )
    return env


def alerting(prometheus: Prometheus, state: str = "firing") -> set[tuple[str, str, str]]:
    """(alert, instance, queue) of every alert in that state."""
    return {
        (alert["labels"]["alertname"], alert["labels"].get("instance", ""), alert["labels"].get("queue", ""))
        for alert in prometheus.alerts()
        if alert["state"] == state
    }


@pytest.fixture
def uploader(db):
    """Uploads by a member of a tenant of this test's own, committed (the worker and the web servers
    see them, the wake-up task is sent); alpha and beta stay untouched."""

    def member_api() -> Api:
        tenant = Tenant.objects.filter(slug="alerts").first() or tenant_provision(
            name="Alerts", slug="alerts"
        )
        Tenant.objects.filter(pk=tenant.pk).update(**UNTHROTTLED)
        member = UserFactory(
            tenant=tenant, role=Role.MEMBER, email=f"member-{time.monotonic_ns()}@alerts.test"
        )
        return Api(host(tenant), bearer_for(member))

    api = committed(member_api)

    def upload(seed: int) -> str:
        response = committed(
            lambda: api.client.post(
                "/api/v1/images/upload",
                {"file": SimpleUploadedFile(f"waiting-{seed}.jpg", jpeg(320, 240, seed=seed))},
                **api.headers,
            )
        )
        assert response.status_code == 202, response.content
        return response.json()["id"]

    return upload


@pytest.mark.slow
def test_a_real_prometheus_evaluates_the_rules_and_fires_on_a_frozen_worker_and_a_lost_database(
    celery_worker, uploader, redis_url, tmp_path: Path
):
    binary, _promtool = prometheus_binaries()
    started = time.monotonic()
    database_url = url_of_test_database()
    web = WebServer("web", web_env(database_url=database_url, redis_url=redis_url), tmp_path / "web.log")
    closed = f"postgresql://deeplens@127.0.0.1:{free_port()}/deeplens"
    lost_db = WebServer(
        "web without database", web_env(database_url=closed, redis_url=redis_url), tmp_path / "nodb.log"
    )
    prometheus = Prometheus(binary, tmp_path / "prometheus")
    prometheus.port = free_port()
    timings = {}
    try:
        web.start(), lost_db.start()
        web.wait_serving(), lost_db.wait_serving()
        config = loopback_config(
            web_targets=[web.target, lost_db.target], prometheus_target=prometheus.target, interval="1s"
        )
        prometheus.start(config=config, rules_text=rules_with_short_for(ALERTS.read_text(), "1s"))
        prometheus.wait_ready()
        timings["servers up"] = time.monotonic() - started

        # Given: every target scraped and every rule evaluated without error.
        def scraped():
            targets = prometheus.api("targets")["activeTargets"]
            return len(targets) == 3 and all(t["health"] == "up" for t in targets)

        wait_for("every target up", scraped, timeout=20)
        expected = {
            rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
        }

        def evaluated():
            rules = prometheus.rules()
            return (
                {r["name"] for r in rules} == expected and all(r["health"] == "ok" for r in rules) and rules
            )

        rules = wait_for("every rule evaluated", evaluated, timeout=20)
        assert [r["lastError"] for r in rules if r.get("lastError")] == []
        timings["rules healthy"] = time.monotonic() - started

        # The web server that lost its database: DatabaseDown for it, not for the other.
        def database_down():
            firing = {(name, instance) for name, instance, _queue in alerting(prometheus)}
            return ("DatabaseDown", lost_db.target) in firing and firing

        firing = wait_for("DatabaseDown firing", database_down, timeout=20)
        assert ("DatabaseDown", web.target) not in firing
        assert not {name for name, _i in firing} & {"NoCeleryWorker", "QueueNotConsumed"}, firing
        timings["database down firing"] = time.monotonic() - started

        # When: the worker freezes and images wait for it. A BRPOP the worker had sent before the
        # freeze ends within kombu's brpop_timeout (1 s); after that the frozen worker takes nothing.
        celery_worker.send_signal(signal.SIGSTOP)
        try:
            time.sleep(2)
            for seed in range(WAITING_IMAGES):
                uploader(seed)

            # Then: no worker answers, and the ingest queue has tasks and no consumer.
            def worker_alerts():
                firing = alerting(prometheus)
                wanted = {("NoCeleryWorker", web.target, ""), ("QueueNotConsumed", web.target, "ingest")}
                return wanted <= firing and firing

            # The frozen worker's heartbeat lives HEARTBEAT_TTL (20 s) after its last beat, which may
            # have come just before the freeze; then a scrape and two rule evaluations (1 s each).
            firing = wait_for("the worker alerts firing", worker_alerts, timeout=HEARTBEAT_TTL + 15)
            timings["worker alerts firing"] = time.monotonic() - started
            assert {queue for name, i, queue in firing if name == "QueueNotConsumed" and i == web.target} == {
                "ingest"
            }
            depth = next(
                float(a["value"])
                for a in prometheus.alerts()
                if a["labels"]["alertname"] == "QueueNotConsumed" and a["labels"]["instance"] == web.target
            )
            # One task wakes the tenant's processing for all its waiting images (ingest_wake).
            assert depth == 1
        finally:
            celery_worker.send_signal(signal.SIGCONT)

        # And: the worker back, the queue drains and the alerts resolve.
        def resolved():
            names = {name for name, _i, _q in alerting(prometheus) | alerting(prometheus, "pending")}
            return not names & {"NoCeleryWorker", "QueueNotConsumed"}

        wait_for("the worker alerts resolved", resolved, timeout=30)
        timings["worker alerts resolved"] = time.monotonic() - started
    finally:
        prometheus.stop()
        web.stop()
        lost_db.stop()
        print("timings (s since the test started):", {k: round(v, 1) for k, v in timings.items()})
