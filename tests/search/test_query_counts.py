"""The search models list takes as many queries when every model has a row and a job as when one has.

The list is the model catalogue (three models), not the tenant's rows, so it cannot grow to 2N:
the test goes from one model with a row and a re-embedding job to all of them."""

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.jobs.models import Job
from apps.search.embedders.registry import DESCRIPTOR, KEYS
from apps.search.models import SearchModel
from apps.search.services.models import SEARCH_EMBED
from tests.api import as_user
from tests.factories import UserFactory
from tests.query_counts import assert_flat_queries


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
