"""Search lists take as many queries for 2N rows as for N: the results of a similarity search (with
metadata) and of a hash search; the models list when every model has a row and a job as when one has.

A search by image id also takes a pinned number of statements, once
its verified matches and the pHashes that calibrate the similar are stored (the hot path of the
load test): one query each for the query image (with its vector and pHashes), the neighbours (with
theirs), detection's stored decision, the matches that pass the filters (with their vectors) and
the result rows. No `SET search_path`: the connection's session already has the tenant's path from
the search before (deeplens/db/base.py).

The models list is the model catalogue (three models), not the tenant's rows, so it cannot grow to
2N: that test goes from one model with a row and a re-embedding job to all of them."""

import base64

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.duplicates.models import Kind, Pair, Signature
from apps.jobs.models import Job
from apps.search import descriptor
from apps.search.embedders.registry import DESCRIPTOR, KEYS
from apps.search.models import Embedding, SearchModel
from apps.search.services.models import SEARCH_EMBED
from tests.api import as_user
from tests.factories import UserFactory
from tests.imagefiles import bench_photos
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


def _signed(images) -> None:
    """Duplicate signatures (what detection stores first) for the images: their pHashes."""
    for n, image in enumerate(images):
        Signature.objects.create(
            image=image,
            version=1,
            width=image.width,
            height=image.height,
            phashes=[n + k for k in range(8)],
            band0=1,
            band1=2,
            band2=3,
            band3=4,
            keypoints=b"",
            descriptors=b"",
            mirrored_keypoints=b"",
            mirrored_descriptors=b"",
            thumb=b"",
            thumb_width=1,
        )


def _matched(query, images) -> None:
    """Each image a near duplicate of the query, as detection records it."""
    for image in images:
        a, b = sorted([query, image], key=lambda i: str(i.pk))
        Pair.objects.create(image_a=a, image_b=b, kind=Kind.NEAR, signal="orb", score=0.9)


# Statements of one search by id as the member's API client (JWT: the user and whether the token's
# family is live, one query), process cache warm: the caller, then the search's four: the image with
# its stored matches (one message), the neighbours, which matches pass, the result rows (no SET
# search_path: the session has the tenant's path from the search before).
SEARCH_BY_ID_STATEMENTS = 5


@pytest.mark.parametrize(
    ("metadata", "sort"),
    [(True, "score"), (False, "-date")],
    ids=["with-metadata", "page-fields-only-by-date"],  # without metadata, deferred fields unread
)
def test_a_search_by_id_takes_as_many_queries_for_2n_matches_and_similar_as_for_n(
    alpha, users, settings, metadata, sort
):
    settings.DEEPLENS_PROCESS_CACHE_SECONDS = 5  # the product's default
    api = as_user(users[Role.MEMBER])
    query = _indexed_images(alpha, 1)[0]
    with tenant_context(alpha):
        _signed([query])
    thresholds = iter(np.linspace(1e-9, 1e-6, 10))

    def add():
        similar, matches = _indexed_images(alpha, N), _indexed_images(alpha, N)
        with tenant_context(alpha):
            _signed(similar + matches)
            _matched(query, matches)

    def search() -> dict:
        response = api.post(
            "search/similarity",
            {
                "image_id": str(query.pk),
                "include_metadata": metadata,
                "sort": sort,
                "max_results": 100,
                "min_confidence": 0,
                "similarity_threshold": float(next(thresholds)),
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert not body["cached"]
        return body

    def listed():
        results = search()["results"]
        assert all(row["confidence"] is not None for row in results)  # calibrated by pHash or verified
        return sum(row["match"] != "similar" for row in results)

    assert_flat_queries(listed=listed, add=add)
    search()  # the process cache warm again (assert_flat_queries clears it)
    with CaptureQueriesContext(connection) as captured:
        body = search()
    assert sum(row["match"] == "same_picture" for row in body["results"]) == 2 * N
    assert len(body["results"]) == 4 * N
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == SEARCH_BY_ID_STATEMENTS, "\n".join(sql[:200] for sql in statements)
    assert not any(sql.startswith("SET search_path") for sql in statements)


# A search by upload (base64 in JSON) with the process cache warm (no SET search_path, as above): the caller
# (the user and the token family); detection's candidate sources (same bytes, pHash bands, ORB anchors, the
# descriptor's nearest), the candidates' signatures; the search's neighbours and the result rows.
SEARCH_BY_UPLOAD_STATEMENTS = 8


def test_a_search_by_upload_takes_as_many_queries_for_2n_similar_as_for_n(alpha, users, settings):
    settings.DEEPLENS_PROCESS_CACHE_SECONDS = 5  # the product's default
    api = as_user(users[Role.MEMBER])
    picture = base64.b64encode(bench_photos(1)[0].read_bytes()).decode()  # a photo: ORB anchors
    thresholds = iter(np.linspace(1e-9, 1e-6, 10))

    def search() -> dict:
        response = api.post(
            "search/similarity",
            {
                "image": picture,
                "max_results": 100,
                "min_confidence": 0,
                "similarity_threshold": float(next(thresholds)),
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert not body["cached"]
        return body

    assert_flat_queries(listed=lambda: len(search()["results"]), add=lambda: _indexed_images(alpha, N))
    search()  # the process cache warm again
    with CaptureQueriesContext(connection) as captured:
        body = search()
    assert len(body["results"]) == 2 * N
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == SEARCH_BY_UPLOAD_STATEMENTS, "\n".join(sql[:200] for sql in statements)
    assert not any(sql.startswith("SET search_path") for sql in statements)
