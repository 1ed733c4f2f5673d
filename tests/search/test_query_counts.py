"""Search lists take as many queries for 2N rows as for N: the results of a similarity search (with
metadata) and of a hash search; the models list when every model has a row and a job as when one has.

The models list is the model catalogue (three models), not the tenant's rows, so it cannot grow to
2N: that test goes from one model with a row and a re-embedding job to all of them."""

import numpy as np
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.jobs.models import Job
from apps.search import descriptor
from apps.search.embedders.registry import DESCRIPTOR, KEYS
from apps.search.models import Embedding, SearchModel
from apps.search.services.models import SEARCH_EMBED
from tests.api import as_user
from tests.factories import UserFactory
from tests.query_counts import N, assert_flat_queries, image_rows


def test_the_search_model_list_takes_as_many_queries_with_every_model_switched_on(alpha, users):
    api = as_user(users[Role.MEMBER])
    batches = iter([[DESCRIPTOR], [key for key in KEYS if key != DESCRIPTOR]])

    def add():
        with tenant_context(alpha):
            for key in next(batches):
                job = Job.objects.create(
                    kind=SEARCH_EMBED,
                    state=Job.State.RUNNING,
                    params={"model": key},
                    total=10,
                    processed=4,
                    created_by=UserFactory(tenant=alpha, email=f"qc-{key}@alpha.test"),
                )
                SearchModel.objects.create(
                    key=key,
                    is_active=True,
                    version="v1",
                    dimensions=512,
                    activated_at=timezone.now(),
                    job=job,
                )

    def listed():
        response = api.get("search/models")
        assert response.status_code == 200, response.content
        return sum(model["job"] is not None for model in response.json()["models"])

    assert_flat_queries(listed=listed, add=add, n=len(KEYS) - 1)


def _indexed_images(tenant, n: int) -> list:
    """n ready images with a descriptor embedding each (positive vectors: every score is above 0)."""
    rng = np.random.default_rng(n)
    with tenant_context(tenant):
        images = image_rows(n, tenant=tenant)
        for image in images:
            vector = np.abs(rng.standard_normal(descriptor.DIMENSIONS)).astype(np.float32)
            Embedding.objects.create(
                image=image,
                model=DESCRIPTOR,
                version=descriptor.VERSION,
                dimensions=descriptor.DIMENSIONS,
                vector=(vector / np.linalg.norm(vector)).tolist(),
            )
    return images


def test_similarity_results_take_as_many_queries_for_2n_matches_as_for_n(alpha, users):
    api = as_user(users[Role.MEMBER])
    query = _indexed_images(alpha, 1)[0]
    # Each request's threshold differs by a hair, so none is answered from the results cache.
    thresholds = iter(np.linspace(1e-9, 1e-6, 10))

    def listed():
        response = api.post(
            "search/similarity",
            {
                "image_id": str(query.pk),
                "include_metadata": True,
                "max_results": 100,
                "min_confidence": 0,
                "similarity_threshold": float(next(thresholds)),
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert not body["cached"]
        assert all(row["metadata"]["tags"] for row in body["results"])
        return len(body["results"])

    assert_flat_queries(listed=listed, add=lambda: _indexed_images(alpha, N))


def test_hash_neighbours_take_as_many_queries_for_2n_matches_as_for_n(alpha, users):
    api = as_user(users[Role.MEMBER])
    with tenant_context(alpha):
        query = image_rows(1, tenant=alpha)[0]

    def add():
        with tenant_context(alpha):
            image_rows(N, tenant=alpha)

    def listed():
        response = api.get("search/hash", {"image_id": str(query.pk), "max_distance": 64, "max_results": 100})
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert_flat_queries(listed=listed, add=add)
