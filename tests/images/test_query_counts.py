"""Image lists (API and pages) take as many queries for 2N images as for N."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.models import ImageStatus
from tests.api import as_user
from tests.conftest import signed_in
from tests.query_counts import N, assert_flat_queries, image_rows

# endpoint or page -> what its rows are (the image_rows arguments)
LISTS = {
    "images": {},
    "images/search": {},
    "images/failed": {"status": ImageStatus.FAILED},
    "images/deleted": {"deleted": True},
}
PAGES = {
    "/images/": {},
    "/images/trash/": {"deleted": True},
    "/images/failed/": {"status": ImageStatus.FAILED},
}


def _adder(tenant, rows):
    def add():
        with tenant_context(tenant):
            image_rows(N, tenant=tenant, **rows)

    return add


@pytest.mark.parametrize("endpoint", list(LISTS))
def test_an_image_list_takes_as_many_queries_for_2n_images_as_for_n(endpoint, alpha, users):
    api = as_user(users[Role.MEMBER])

    def listed():
        response = api.get(endpoint, {"limit": 100})
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert_flat_queries(listed=listed, add=_adder(alpha, LISTS[endpoint]))


@pytest.mark.parametrize("path", list(PAGES))
def test_an_image_page_takes_as_many_queries_for_2n_images_as_for_n(path, alpha, users):
    browser = signed_in(alpha, users[Role.MEMBER].email)

    def listed():
        response = browser.get(path)
        assert response.status_code == 200
        return response.content.decode().count('title="qc-')

    assert_flat_queries(listed=listed, add=_adder(alpha, PAGES[path]))
