"""apps.tenants.services.in_tenant: the one way for code outside apps/tenants to read a tenant's
schema (ruff's TID251 refuses django-tenants' tenant_context/schema_context anywhere else)."""

import pytest
from django.db import connection

from apps.storage.models import StorageLocation
from apps.tenants.services import in_tenant
from tests.factories import StorageLocationFactory


def test_in_tenant_reads_that_tenants_schema_and_goes_back(alpha, beta):
    before = connection.schema_name
    with in_tenant(alpha):
        StorageLocationFactory(name="only-in-alpha")
    with in_tenant(beta) as tenant:
        assert tenant == beta
        assert connection.schema_name == beta.schema_name
        assert not StorageLocation.objects.filter(name="only-in-alpha").exists()
        with in_tenant(alpha):
            assert StorageLocation.objects.filter(name="only-in-alpha").count() == 1
        assert connection.schema_name == beta.schema_name
    assert connection.schema_name == before


def test_in_tenant_goes_back_after_an_error(alpha):
    before = connection.schema_name
    with pytest.raises(LookupError), in_tenant(alpha):
        raise LookupError
    assert connection.schema_name == before
