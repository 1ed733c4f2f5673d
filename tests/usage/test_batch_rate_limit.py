"""A batch upload of N files is N uploads against the workspace's uploads per minute (issue 17)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.models import Image
from tests.api import as_user
from tests.imagefiles import jpeg
from tests.images.conftest import upload
from tests.usage.conftest import set_limits


@pytest.fixture
def member(users):
    return as_user(users[Role.MEMBER])


def batch(api, count: int, seed: int = 0):
    files = [SimpleUploadedFile(f"b{seed}-{i}.jpg", jpeg(32, 32, seed=seed * 100 + i)) for i in range(count)]
    return api.client.post("/api/v1/images/batch", {"files": files}, **api.headers)


def test_a_batch_larger_than_the_uploads_left_is_refused_whole(alpha, member):
    set_limits(alpha, uploads_per_minute=5, requests_per_minute=100)

    response = batch(member, 6)

    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["detail"]["scope"] == "tenant_upload"
    assert (error["detail"]["units"], error["detail"]["remaining"], error["detail"]["limit"]) == (6, 5, 5)
    with tenant_context(alpha):
        assert Image.objects.count() == 0


def test_a_batch_counts_each_of_its_files(alpha, member):
    set_limits(alpha, uploads_per_minute=5, requests_per_minute=100)

    first = batch(member, 3)
    second = batch(member, 3, seed=1)
    single_left = upload(member, "last.jpg", jpeg(32, 32, seed=7))
    over = upload(member, "over.jpg", jpeg(32, 32, seed=8))

    assert first.status_code == 202
    assert first.json()["accepted"] == 3
    assert second.status_code == 429  # 3 taken, 2 left: a batch of 3 does not fit
    assert single_left.status_code == 202
    assert over.status_code == 429
    with tenant_context(alpha):
        assert Image.objects.count() == 4


def test_a_200_file_batch_is_200_uploads(alpha, member):
    set_limits(alpha, uploads_per_minute=199, requests_per_minute=1000)

    response = batch(member, 200)

    assert response.status_code == 429
    assert response.json()["error"]["detail"]["units"] == 200
