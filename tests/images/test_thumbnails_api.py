import uuid

from django.core.cache import cache
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.audit.context import Actor
from apps.core.redis import redis_key
from apps.images.models import Thumbnail, ThumbnailSpec
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import job_create
from tests.images.conftest import process


def thumbnail_bytes(response) -> bytes:
    return response.content


def test_a_thumbnail_is_served_with_etag_and_cache_headers(ready_image, member_api):
    response = member_api.get(f"images/{ready_image.pk}/thumbnail", {"spec": "small"})

    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["Cache-Control"] == "private, max-age=86400"
    etag = response["ETag"]
    assert PILImage.open(__import__("io").BytesIO(response.content)).size == (150, 112)

    again = member_api.get(f"images/{ready_image.pk}/thumbnail", {"spec": "small"}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag


def test_thumbnails_are_cached_in_redis(ready_image, member_api, alpha):
    spec = ThumbnailSpec(name="medium", max_width=400, max_height=400, format="webp", quality=80)
    key = redis_key("alpha", "thumbnail", ready_image.pk, "medium", spec.version)
    cache.delete(key)

    first = member_api.get(f"images/{ready_image.pk}/thumbnail", {"spec": "medium"})

    assert cache.get(key) == ("image/webp", first.content)


def test_an_original_that_fits_is_served_as_its_own_thumbnail(alpha, member_api):
    from tests import imagefiles
    from tests.images.conftest import upload

    data = imagefiles.jpeg(300, 200)
    image = process(alpha, upload(member_api, "small.jpg", data).json()["id"])

    response = member_api.get(f"images/{image.pk}/thumbnail", {"spec": "large"})

    assert response["Content-Type"] == "image/jpeg"
    assert response.content == data


def test_a_missing_thumbnail_is_made_on_demand(ready_image, member_api, admin_api, alpha):
    assert admin_api.delete(f"images/{ready_image.pk}/thumbnails/large").status_code == 204
    with tenant_context(alpha):
        assert not Thumbnail.objects.filter(image=ready_image, spec="large").exists()

    response = member_api.get(f"images/{ready_image.pk}/thumbnail", {"spec": "large"})

    assert response.status_code == 200
    with tenant_context(alpha):
        assert Thumbnail.objects.filter(image=ready_image, spec="large").exists()


def test_an_unknown_spec_is_explained(ready_image, member_api):
    response = member_api.get(f"images/{ready_image.pk}/thumbnail", {"spec": "poster"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "thumbnail_spec_not_found"
    assert "small, medium, large" in response.json()["error"]["message"]


def test_thumbnails_are_listed_and_regenerated(ready_image, admin_api, member_api):
    listed = member_api.get(f"images/{ready_image.pk}/thumbnails").json()["results"]
    assert [(t["spec"], t["current"]) for t in listed] == [("small", True), ("medium", True), ("large", True)]

    assert admin_api.post(f"images/{ready_image.pk}/thumbnails/generate", {"specs": ["small"]}).json() == {
        "generated": ["small"]
    }
    assert member_api.post(f"images/{ready_image.pk}/thumbnails/generate").status_code == 403


def test_the_thumbnail_config_can_be_read_changed_and_applied(alpha, ready_image, admin_api):
    url = f"tenants/{alpha.pk}/thumbnail-config"
    assert [s["name"] for s in admin_api.get(url).json()["specs"]] == ["small", "medium", "large"]

    new = {
        "specs": [
            {"name": "small", "max_width": 200, "max_height": 200, "format": "jpeg", "quality": 85},
            {"name": "poster", "max_width": 800, "max_height": 600, "format": "avif", "quality": 60},
        ]
    }
    changed = admin_api.call("put", url, new)
    assert changed.status_code == 200
    assert [s["name"] for s in changed.json()["specs"]] == ["small", "poster"]

    started = admin_api.post(f"{url}/apply")
    assert started.status_code == 202
    job_id = started.json()["id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
        thumbnails = {
            t.spec: (t.width, t.height, t.format) for t in Thumbnail.objects.filter(image=ready_image)
        }
    assert thumbnails["small"] == (200, 150, "jpeg")
    assert thumbnails["poster"] == (800, 600, "avif")
    progress = admin_api.get(f"jobs/{job_id}").json()
    assert (progress["state"], progress["total"], progress["processed"], progress["progress"]) == (
        "done",
        1,
        1,
        1.0,
    )


def test_a_bad_thumbnail_config_is_refused_and_changes_nothing(alpha, admin_api):
    url = f"tenants/{alpha.pk}/thumbnail-config"
    bad = {"specs": [{"name": "huge", "max_width": 99999, "max_height": 10, "format": "gif", "quality": 0}]}

    response = admin_api.call("put", url, bad)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert [s["name"] for s in admin_api.get(url).json()["specs"]] == ["small", "medium", "large"]


def test_another_tenants_config_is_not_found(beta, admin_api):
    assert admin_api.get(f"tenants/{beta.pk}/thumbnail-config").status_code == 404


def test_batch_regenerate_is_a_job(alpha, ready_image, admin_api):
    response = admin_api.post("images/thumbnails/batch-regenerate", {"ids": [str(ready_image.pk)]})

    assert response.status_code == 202
    with tenant_context(alpha):
        job = Job.objects.get(pk=response.json()["id"])
        assert job.params == {"image_ids": [str(ready_image.pk)]}
        job_run(job_id=job.pk)
        job.refresh_from_db()
    assert (job.state, job.processed) == ("done", 1)


def test_unprocessed_images_get_thumbnails_on_demand_too(alpha, member_api):
    from tests import imagefiles
    from tests.images.conftest import upload

    image_id = upload(member_api, "fresh.jpg", imagefiles.jpeg(500, 500)).json()["id"]

    assert member_api.get(f"images/{image_id}/thumbnail", {"spec": "small"}).status_code == 200
    assert process(alpha, image_id).status == "ready"


def test_batch_regenerate_with_ids_that_match_nothing_starts_nothing(alpha, beta, ready_image, admin_api):
    # Issue 17 item 8: it re-rendered the whole tenant.
    with tenant_context(alpha):
        jobs_before = Job.objects.count()

    response = admin_api.post("images/thumbnails/batch-regenerate", {"ids": [str(uuid.uuid4())]})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "images_not_found"
    with tenant_context(alpha):
        assert Job.objects.count() == jobs_before


def test_a_regenerate_job_over_no_images_renders_none(alpha, ready_image):
    with tenant_context(alpha):
        job = job_create(kind="thumbnails_regenerate", actor=Actor.system(), params={"image_ids": []})
        job_run(job_id=job.pk)
        job.refresh_from_db()
        assert (job.state, job.total, job.processed) == ("done", 0, 0)
