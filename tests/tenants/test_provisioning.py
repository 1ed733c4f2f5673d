import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import tenant_context

from apps.images.models import ThumbnailFormat, ThumbnailSpec
from apps.storage.models import StorageLocation, StorageProvider
from apps.tenants.errors import TenantExists, TenantSlugInvalid
from apps.tenants.models import Domain, Tenant, TenantStatus
from apps.tenants.services import tenant_provision


def schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace")
        return {row[0] for row in cursor.fetchall()}


def test_provision_creates_schema_domain_storage_and_thumbnail_specs(db):
    tenant = tenant_provision(name="Gamma Photos", slug="gamma-photos")

    assert tenant.status == TenantStatus.ACTIVE
    assert tenant.schema_name == "gamma_photos"
    assert "gamma_photos" in schemas()
    assert list(Domain.objects.filter(tenant=tenant).values_list("domain", "is_primary")) == [
        ("gamma-photos.localhost", True)
    ]
    with tenant_context(tenant):
        location = StorageLocation.objects.get()
        specs = list(
            ThumbnailSpec.objects.values_list("name", "max_width", "max_height", "format", "quality")
        )
    assert (location.provider, location.is_default) == (StorageProvider.FILESYSTEM, True)
    assert specs == [
        ("small", 150, 150, ThumbnailFormat.WEBP, 80),
        ("medium", 400, 400, ThumbnailFormat.WEBP, 80),
        ("large", 1024, 1024, ThumbnailFormat.WEBP, 80),
    ]


def test_tier_sets_the_default_limits(db):
    tenant = tenant_provision(name="Big", slug="big", tier="enterprise")

    assert tenant.limits.as_dict() == {
        "requests_per_minute": 50_000,
        "searches_per_minute": 25_000,
        "uploads_per_minute": 1_000,
        "max_storage_bytes": 500 * 1024**3,
        "max_users": 1000,
        "max_api_calls_per_day": 1_000_000,
    }
    assert tenant.limits.overridden == frozenset()


def test_provisioned_schema_round_trips_a_vector_and_builds_an_hnsw_index(alpha):
    with tenant_context(alpha), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE probe_vectors (id int PRIMARY KEY, embedding vector(3))")
        cursor.execute("INSERT INTO probe_vectors VALUES (1, '[1,0,0]'), (2, '[0.6,0.8,0]'), (3, '[0,0,1]')")
        cursor.execute("CREATE INDEX probe_hnsw ON probe_vectors USING hnsw (embedding vector_cosine_ops)")
        cursor.execute("SELECT embedding::text FROM probe_vectors WHERE id = 2")
        assert cursor.fetchone() == ("[0.6,0.8,0]",)
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SELECT id FROM probe_vectors ORDER BY embedding <=> '[1,0.1,0]' LIMIT 2")
        assert [row[0] for row in cursor.fetchall()] == [1, 2]
        cursor.execute("SELECT schemaname, indexdef FROM pg_indexes WHERE indexname = 'probe_hnsw'")
        schema, indexdef = cursor.fetchone()
    assert schema == "alpha"
    assert "USING hnsw" in indexdef


def test_vector_extension_lives_in_the_extensions_schema(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'vector'"
        )
        assert cursor.fetchone() == ("extensions",)


@pytest.mark.parametrize(
    "slug",
    [
        "Bad Slug",
        "1abc",
        "public",
        "extensions",
        "admin",
        "a_b",
        "x" * 41,
        "pg-x",
        "-a",
        "a--b",
        "a-",
        "",
        "ä",
    ],
)
def test_provision_rejects_an_invalid_slug_and_creates_nothing(db, slug):
    tenants_before = Tenant.objects.count()
    schemas_before = schemas()

    with pytest.raises(TenantSlugInvalid) as excinfo:
        tenant_provision(name="Nope", slug=slug)

    assert excinfo.value.code == "tenant_slug_invalid"
    assert excinfo.value.message
    assert Tenant.objects.count() == tenants_before
    assert schemas() == schemas_before


def test_provision_refuses_a_slug_in_use(alpha):
    with pytest.raises(TenantExists):
        tenant_provision(name="Alpha again", slug="alpha")
    assert Tenant.objects.filter(slug="alpha").count() == 1


def test_provision_finishes_a_tenant_left_pending(db):
    pending = Tenant.objects.create(
        name="Half", slug="half", schema_name="half", status=TenantStatus.PENDING_SETUP
    )
    Domain.objects.create(domain="half.localhost", tenant=pending, is_primary=True)

    tenant = tenant_provision(name="Half", slug="half")

    assert tenant.pk == pending.pk
    assert tenant.status == TenantStatus.ACTIVE
    with tenant_context(tenant):
        assert StorageLocation.objects.filter(is_default=True).count() == 1


def test_tenant_create_command_provisions(db, capsys):
    call_command("tenant_create", "delta", "--name", "Delta", "--tier", "pro")

    tenant = Tenant.objects.get(slug="delta")
    assert (tenant.name, tenant.tier, tenant.status) == ("Delta", "pro", TenantStatus.ACTIVE)
    assert "Tenant delta is ready" in capsys.readouterr().out


def test_tenant_create_command_explains_a_bad_slug(db):
    with pytest.raises(CommandError, match=r"lowercase letters.*\[tenant_slug_invalid\]"):
        call_command("tenant_create", "Not_Valid")
    assert not Tenant.objects.filter(name="Not_Valid").exists()
