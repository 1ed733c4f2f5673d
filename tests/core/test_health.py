import pytest
from django.test import Client


@pytest.mark.parametrize("host", ["localhost", "alpha.localhost", "10.1.2.3", "unknown.example"])
def test_healthz_answers_on_any_host(db, host):
    response = Client(HTTP_HOST=host).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_every_component_ok(db):
    response = Client().get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert set(body["checks"]) == {"database", "redis", "broker", "storage"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_an_unreachable_redis(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = Client().get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["redis"]
    assert "Connection" in body["checks"]["redis"]["error"]


def test_readyz_names_unwritable_storage(db, settings, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the media root should be")
    settings.DEEPLENS_MEDIA_ROOT = blocker

    response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json()["failing"] == ["storage"]
