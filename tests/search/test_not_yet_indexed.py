"""A search by an image that is READY but not yet reached by the index stage (which computes its
descriptor after processing, behind uploads) computes the descriptor then, as that stage would."""

import numpy as np
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.duplicates.services import image_detect
from apps.search.models import Embedding
from apps.search.selectors import vector_of
from tests.api import as_user
from tests.imagefiles import bench_photos
from tests.images.conftest import process, upload


def test_a_ready_image_without_its_descriptor_is_searchable_at_once(alpha, users):
    member_api = as_user(users[Role.MEMBER])
    photos = bench_photos(2)
    ids = []
    for path in photos:
        response = upload(member_api, path.name, path.read_bytes())
        assert response.status_code == 202, response.content
        ids.append(response.json()["id"])
        process(alpha, ids[-1])
    with tenant_context(alpha):
        image_detect(image_id=ids[1])  # indexed; ids[0] is not yet
        assert not Embedding.objects.filter(image_id=ids[0], model="descriptor").exists()

    response = member_api.client.post(
        "/api/v1/search/similarity",
        {"image_id": ids[0], "min_confidence": 0},
        content_type="application/json",
        **member_api.headers,
    )

    assert response.status_code == 200, response.content
    assert [r["image_id"] for r in response.json()["results"]] == [ids[1]]
    with tenant_context(alpha):
        made = Embedding.objects.get(image_id=ids[0], model="descriptor")
        stored_then = vector_of(made)
        Embedding.objects.filter(pk=made.pk).delete()
        image_detect(image_id=ids[0])  # the index stage computes the same vector
        assert np.allclose(
            vector_of(Embedding.objects.get(image_id=ids[0], model="descriptor")), stored_then, atol=1e-3
        )
