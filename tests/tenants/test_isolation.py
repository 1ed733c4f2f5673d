from django.db import connection
from django_tenants.utils import tenant_context

from apps.storage.models import StorageLocation
from tests.factories import StorageLocationFactory


def test_rows_of_one_tenant_are_invisible_to_another(alpha, beta):
    with tenant_context(alpha):
        StorageLocationFactory(name="alpha archive")
        alpha_names = set(StorageLocation.objects.values_list("name", flat=True))
    with tenant_context(beta):
        beta_names = set(StorageLocation.objects.values_list("name", flat=True))

    assert alpha_names == {"Local files", "alpha archive"}
    assert beta_names == {"Local files"}


def test_each_tenant_has_its_own_tables(alpha, beta):
    with tenant_context(alpha):
        StorageLocationFactory(name="shared name")
    with tenant_context(beta):
        StorageLocationFactory(name="shared name")  # unique per tenant, so no clash
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('storage_storagelocation')::text")
            assert cursor.fetchone() == ("storage_storagelocation",)
            cursor.execute("SELECT count(*) FROM alpha.storage_storagelocation WHERE name = 'shared name'")
            assert cursor.fetchone() == (1,)
            cursor.execute("SELECT count(*) FROM beta.storage_storagelocation WHERE name = 'shared name'")
            assert cursor.fetchone() == (1,)


def test_tenant_tables_do_not_exist_in_the_public_schema(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.storage_storagelocation')")
        assert cursor.fetchone() == (None,)
