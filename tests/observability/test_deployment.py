"""docker/: no Docker engine runs here, so the files are checked for what can be checked: they parse,
name the Celery queues that exist, set only environment variables the app reads, and the alert rules
and the dashboard query metrics that DeepLens really exports."""

import json
import re
from pathlib import Path

import pytest
import yaml

from apps.core.metrics import EXPORTED_METRICS
from celery_app import QUEUES
from tests.api import Api, bearer_for, host

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
METRIC = re.compile(r"\b((?:deeplens|django)_[a-z0-9_]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def load_yaml(relative: str):
    return yaml.safe_load((DOCKER / relative).read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml("docker-compose.yml")


def worker_queues(service: dict) -> set[str]:
    command = service["command"]
    return set(command[command.index("-Q") + 1].split(","))


def env_names_the_app_reads() -> set[str]:
    names = set()
    for path in [*ROOT.glob("apps/**/*.py"), *ROOT.glob("deeplens/**/*.py"), ROOT / "celery_app.py"]:
        text = path.read_text()
        names |= set(re.findall(r'env_(?:str|int|bool|list)\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'os\.environ(?:\.get|\.setdefault)?\(\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'os\.environ\[\s*"([A-Z0-9_]+)"', text))
        names |= set(re.findall(r'service_url\(\s*"([A-Z0-9_]+)"', text))
    return names


def test_the_stack_has_every_service(compose):
    assert {
        "db", "redis", "minio", "migrate", "web", "worker", "gpu-worker", "beat", "prometheus", "grafana"
    } <= set(compose["services"])  # fmt: skip
    assert compose["services"]["db"]["image"].startswith("pgvector/pgvector:")


def test_the_workers_consume_every_queue_and_the_gpu_worker_only_embed(compose):
    services = compose["services"]
    cpu, gpu = worker_queues(services["worker"]), worker_queues(services["gpu-worker"])

    assert gpu == {"embed"}
    assert cpu | gpu == set(QUEUES)
    assert cpu & gpu == set()
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert services["gpu-worker"]["build"]["target"] == "ml"


def test_the_app_containers_set_only_variables_the_app_reads(compose):
    known = env_names_the_app_reads() | {"DJANGO_SETTINGS_MODULE"}
    for name in ("web", "worker", "gpu-worker", "beat", "migrate"):
        environment = compose["services"][name]["environment"]
        unknown = {key for key in environment if key not in known and not key.startswith("OTEL_")}
        assert unknown == set(), name
        assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"} <= set(environment)
        assert environment["DJANGO_SETTINGS_MODULE"] == "deeplens.settings.production"


def test_only_prometheus_scrapes_without_a_credential(compose):
    services = compose["services"]
    prometheus_ip = services["prometheus"]["networks"]["default"]["ipv4_address"]

    assert services["web"]["environment"]["DEEPLENS_METRICS_ALLOW_NETWORKS"] == f"{prometheus_ip}/32"


def test_prometheus_scrapes_the_web_server_and_the_workers_and_loads_the_rules(compose):
    config = load_yaml("prometheus/prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    web_target = jobs["deeplens-web"]["static_configs"][0]["targets"][0]
    worker_targets = jobs["deeplens-worker"]["static_configs"][0]["targets"]
    services = compose["services"]

    assert jobs["deeplens-web"]["metrics_path"] == "/metrics"
    assert web_target.split(":")[0] in str(services["web"]["networks"]["default"]["aliases"])
    assert {t.split(":")[0] for t in worker_targets} == {"worker", "gpu-worker"}
    for target in worker_targets:
        service = services[target.split(":")[0]]
        assert target.split(":")[1] == service["environment"]["DEEPLENS_WORKER_METRICS_PORT"]
    assert config["rule_files"] == ["alerts.yml"]
    mounted = {volume.split(":")[0] for volume in services["prometheus"]["volumes"]}
    assert {"./prometheus/prometheus.yml", "./prometheus/alerts.yml"} <= mounted
    for source in mounted | {v.split(":")[0] for v in services["grafana"]["volumes"]}:
        if source.startswith("./"):
            assert (DOCKER / source).exists(), source


@pytest.fixture
def exported(users) -> set[str]:
    """DeepLens's metric names and the ones the real /metrics page shows (django-prometheus)."""
    api = Api(host(None), bearer_for(users["global"]))
    api.get("/metrics")  # a response counted by django-prometheus before the page is read
    page = api.get("/metrics").content.decode()
    names = set(EXPORTED_METRICS)
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    return names


def metric_exists(name: str, exported: set[str]) -> bool:
    if name in exported:
        return True
    return any(name.endswith(suffix) and name[: -len(suffix)] in exported for suffix in HISTOGRAM_SUFFIXES)


def test_the_alert_rules_cover_the_seeds_and_query_exported_metrics(exported):
    rules = [rule for group in load_yaml("prometheus/alerts.yml")["groups"] for rule in group["rules"]]
    by_name = {rule["alert"]: rule for rule in rules}

    assert {"HighErrorRate", "HighResponseTime", "IngestBacklog", "DatabaseDown"} <= set(by_name)
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule)
        assert rule["labels"]["severity"] in ("warning", "critical")
        used = METRIC.findall(rule["expr"])
        assert used or "up{" in rule["expr"], rule["alert"]
        assert [name for name in used if not metric_exists(name, exported)] == [], rule["alert"]


def test_the_dashboard_queries_exported_metrics_through_the_provisioned_datasource(exported):
    dashboard = json.loads((DOCKER / "grafana/dashboards/deeplens.json").read_text())
    datasource = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    provider = load_yaml("grafana/provisioning/dashboards/deeplens.yml")["providers"][0]
    titles = [panel["title"] for panel in dashboard["panels"]]

    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert datasource["url"] == "http://prometheus:9090"
    for wanted in ("Images ingested", "Queue depth", "Search latency", "HTTP errors"):
        assert any(title.startswith(wanted) for title in titles), wanted
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == datasource["uid"]
        for target in panel["targets"]:
            used = METRIC.findall(target["expr"])
            assert used and all(metric_exists(name, exported) for name in used), target["expr"]


def test_the_dockerfile_is_multi_stage_and_runs_as_a_user():
    text = (DOCKER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE)

    assert len(stages) >= 3
    assert {name for _image, name in stages} >= {"build", "runtime", "ml"}
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1] == "deeplens"
    assert "COPY requirements/ml.txt" in text
    entrypoint = DOCKER / "entrypoint.sh"
    assert entrypoint.stat().st_mode & 0o111
    assert 'rm -rf "$PROMETHEUS_MULTIPROC_DIR"' in entrypoint.read_text()
