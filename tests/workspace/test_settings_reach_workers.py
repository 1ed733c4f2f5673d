"""A settings change reaches every process at once: web and workers cache the image policy and the
thumbnail specs (DEEPLENS_PROCESS_CACHE_SECONDS), and a change bumps the tenant's cache version in
Redis, which every cached read compares."""

from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.core import process_cache
from apps.core.redis import get_redis, redis_key
from apps.images.models import Image, Thumbnail
from apps.images.selectors import thumbnail_spec_list
from apps.images.services.ingest import image_ingest
from apps.images.services.lifecycle import image_purge
from apps.images.services.thumbnails import thumbnail_config_update
from apps.tenants.models import Tenant
from tests import imagefiles
from tests.images.conftest import uploaded
from tests.support.waiting import eventually
from tests.support.workers import worker_start

SPEC_FIELDS = ("name", "max_width", "max_height", "format", "quality")


def test_a_cached_value_is_reloaded_once_another_process_bumps_the_scope(redis_url):
    loads = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    key = ("scope-test", "thing")
    process_cache.forget(key)
    assert process_cache.cached(key, 3600, load, scope="scope-test") == 1
    assert process_cache.cached(key, 3600, load, scope="scope-test") == 1  # cached for an hour
    get_redis().incr(redis_key("cache-version", "scope-test"))  # as another process's invalidate()
    assert process_cache.cached(key, 3600, load, scope="scope-test") == 2
    process_cache.invalidate("other-scope")  # another tenant's change leaves this entry alone
    assert process_cache.cached(key, 3600, load, scope="scope-test") == 2
    process_cache.forget(key)


def _specs_of(image_id) -> set[str]:
    return set(Thumbnail.objects.filter(image_id=image_id).values_list("spec", flat=True))


def test_new_thumbnail_sizes_reach_a_worker_that_caches_settings_for_an_hour(
    django_db_setup, django_db_blocker, redis_url
):
    worker = worker_start(name="cache-worker", env={"DEEPLENS_TEST_PROCESS_CACHE_SECONDS": "3600"})
    made: list = []
    try:
        with django_db_blocker.unblock():
            tenant = Tenant.objects.get(slug="alpha")
            with tenant_context(tenant):
                before = [{f: getattr(s, f) for f in SPEC_FIELDS} for s in thumbnail_spec_list()]

                def ingest(name: str, seed: int) -> Image:
                    image = image_ingest(
                        tenant=tenant,
                        file=uploaded(name, imagefiles.jpeg(900, 700, seed=seed)),
                        filename=name,
                        actor=Actor.system(),
                    )
                    made.append(image.pk)
                    return image

                try:
                    first = ingest("first.jpg", 31)
                    names = {s["name"] for s in before}
                    eventually(lambda: _specs_of(first.pk) == names, timeout=90, interval=0.3,
                               message=lambda: f"the worker rendered {_specs_of(first.pk)}")  # fmt: skip

                    tiny = {"name": "tiny", "max_width": 48, "max_height": 48, "format": "webp"}
                    tiny["quality"] = 70
                    thumbnail_config_update(specs=[tiny], actor=Actor.system(), tenant=tenant)
                    second = ingest("second.jpg", 32)

                    eventually(lambda: _specs_of(second.pk) == {"tiny"}, timeout=90, interval=0.3,
                               message=lambda: f"the worker rendered {_specs_of(second.pk)}")  # fmt: skip
                finally:
                    thumbnail_config_update(specs=before, actor=Actor.system(), tenant=tenant)
                    for image in Image.objects.select_related("storage_location").filter(pk__in=made):
                        image_purge(image=image, actor=Actor.system(), tenant=tenant)
    finally:
        worker.stop()
