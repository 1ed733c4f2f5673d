"""Scale-out, tried: the web process and two Celery worker processes as three separate "hosts".

Each has its own DEEPLENS_DATA_DIR and environment; they share only DATABASE_URL, REDIS_URL (a
broker of the test's own, so the suite's worker takes nothing) and an S3 bucket on moto's server,
the tenant's default storage location. A batch uploaded over HTTP to the web process is processed,
indexed and grouped by the two workers, and no original or thumbnail is ever written to a local
folder of any of the three.
"""

import http.client
import io
import json
import os
import sys
import uuid
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.duplicates.models import Member
from apps.images.models import Image, ImageStage, ImageStatus
from apps.images.services.lifecycle import image_purge
from apps.storage.models import StorageLocation
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_provision
from deeplens.embedded import EmbeddedRedis, free_port
from tests import imagefiles
from tests.api import bearer_for, host
from tests.conftest import UNTHROTTLED, url_of_test_database
from tests.factories import UserFactory
from tests.faults.library import tail, wait_for
from tests.observability.live_prometheus import WebServer
from tests.storage.conftest import S3Server
from tests.storage.helpers import s3_location
from tests.storage.servers import moto_user, start_moto
from tests.support.workers import worker_start

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = 6
COPIES = 3  # the first COPIES photos are uploaded twice (re-encoded smaller): COPIES groups expected
SET_BY_WORKER_START = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
LOCAL_MEDIA = (".jpg", ".jpeg", ".png", ".webp", ".avif")


@pytest.fixture
def broker(tmp_path):
    redis = EmbeddedRedis(tmp_path / "broker", port=free_port())
    url = redis.start()
    yield url
    redis.stop()


@pytest.fixture
def s3(tmp_path):
    port = free_port()
    process = start_moto(port, tmp_path / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    try:
        key_id, secret = moto_user(endpoint)
        yield S3Server(endpoint=endpoint, access_key_id=key_id, secret_access_key=secret)
    finally:
        process.terminate()
        process.wait(timeout=10)


def host_env(tmp_path: Path, name: str, *, database_url: str, broker_url: str) -> dict:
    """One "host": its own data dir and metrics folder; only the shared URLs come from outside."""
    data = tmp_path / name
    (data / "metrics").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPLENS_", "PROMETHEUS_"))}
    return {
        **env,
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "deeplens.settings.test",
        "DEEPLENS_DATA_DIR": str(data),
        "PROMETHEUS_MULTIPROC_DIR": str(data / "metrics"),
        "DEEPLENS_SWEEP_SECONDS": "5",
    }


def batch() -> list[tuple[str, bytes]]:
    files = []
    for n, photo in enumerate(imagefiles.bench_photos(PHOTOS)):
        files.append((f"photo-{n}{photo.suffix}", photo.read_bytes()))
        if n < COPIES:
            with PILImage.open(photo) as img:
                rgb = img.convert("RGB")
                rgb.thumbnail((800, 800))
                out = io.BytesIO()
                rgb.save(out, "JPEG", quality=80)
            files.append((f"photo-{n}-copy.jpg", out.getvalue()))
    return files


def upload(web: WebServer, tenant: Tenant, token: str, name: str, data: bytes) -> dict:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
    conn.request(
        "POST",
        "/api/v1/images/upload",
        body=body,
        headers={
            "Host": host(tenant),
            "Authorization": token,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    assert response.status == 202, (response.status, payload[:500])
    return json.loads(payload)


def serving(web: WebServer) -> bool:
    assert web.process is not None and web.process.poll() is None, tail(web.log_path)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
        conn.request("GET", "/healthz", headers={"Host": "localhost"})
        return conn.getresponse().status == 200
    except OSError:
        return False


def local_media(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in LOCAL_MEDIA]


def test_web_and_two_worker_hosts_share_only_the_database_the_broker_and_s3(
    django_db_setup, django_db_blocker, tmp_path, broker, s3
):
    database_url = url_of_test_database()
    with django_db_blocker.unblock():
        tenant = Tenant.objects.filter(slug="scaleout").first() or tenant_provision(
            name="Scale out", slug="scaleout"
        )
        Tenant.objects.filter(pk=tenant.pk).update(**UNTHROTTLED)
        with tenant_context(tenant):
            StorageLocation.objects.filter(is_default=True).update(is_default=False)
            location = s3_location("shared bucket", s3, s3.bucket(), is_default=True)
            admin = UserFactory(tenant=tenant, role=Role.ADMIN, email=f"admin-{uuid.uuid4().hex[:8]}@so.test")
            token = bearer_for(admin)
        envs = {
            name: host_env(tmp_path, name, database_url=database_url, broker_url=broker)
            for name in ("web", "worker-a", "worker-b")
        }
        web = WebServer(name="web host", env=envs["web"], log_path=tmp_path / "web.log").start()
        workers = [
            worker_start(
                name=name,
                concurrency=1,
                env={k: v for k, v in envs[name].items() if k not in SET_BY_WORKER_START},
                database_url=database_url,
                redis_url=broker,
                log_path=tmp_path / f"{name}.log",
                args=("--beat", "--schedule", str(tmp_path / f"{name}.schedule"))
                if name == "worker-a"
                else (),
            )
            for name in ("worker-a", "worker-b")
        ]
        ids: list = []
        try:
            wait_for(lambda: serving(web), 60, lambda: tail(web.log_path))
            files = batch()
            ids = [upload(web, tenant, token, name, data)["id"] for name, data in files]

            def logs() -> str:
                return "\n".join(f"--- {w.hostname}\n{w.log_tail()}" for w in workers) + tail(web.log_path)

            with tenant_context(tenant):

                def state() -> dict:
                    images = Image.objects.filter(pk__in=ids)
                    return {
                        "ready": images.filter(status=ImageStatus.READY).count(),
                        "indexed": ImageStage.objects.filter(
                            image_id__in=ids, stage="detect", state="done"
                        ).count(),
                        "grouped": Member.objects.filter(image_id__in=ids).count(),
                    }

                wanted = {"ready": len(files), "indexed": len(files), "grouped": 2 * COPIES}
                wait_for(lambda: state() == wanted, 240, lambda: f"{state()} != {wanted}\n{logs()}")

                images = list(Image.objects.filter(pk__in=ids))
                assert {image.storage_location_id for image in images} == {location.pk}
                keys = {
                    item["Key"]
                    for item in s3.client().list_objects_v2(Bucket=location.config["bucket"])["Contents"]
                }
                assert {image.storage_key for image in images} <= keys
                groups: dict = {}
                for member in Member.objects.filter(image_id__in=ids).select_related("image"):
                    groups.setdefault(member.group_id, set()).add(member.image.original_filename)
                expected = {
                    frozenset({name, f"photo-{n}-copy.jpg"})
                    for n, (name, _data) in enumerate(files[0 : 2 * COPIES : 2])
                }
                assert {frozenset(g) for g in groups.values()} == expected
            # Each worker host did part of the work, and nothing was kept on any host's disk.
            for w in workers:
                assert "succeeded" in w.log_tail(chars=1_000_000), w.log_tail()
            for name, env in envs.items():
                assert local_media(Path(env["DEEPLENS_DATA_DIR"])) == [], name
        finally:
            for w in workers:
                w.stop()
            web.stop()
            with tenant_context(tenant):
                for image in Image.objects.select_related("storage_location").filter(pk__in=ids):
                    image_purge(image=image, actor=Actor.system(), tenant=tenant)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
