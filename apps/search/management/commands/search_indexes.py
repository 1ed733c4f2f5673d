from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ApplicationError
from apps.search.services.index import vector_index_rebuild, vector_indexes_list
from apps.tenants.models import TenantStatus
from apps.tenants.selectors import tenant_list
from apps.tenants.services import tenant_scope


class Command(BaseCommand):
    help = (
        "List each tenant's HNSW vector indexes with their m and ef_construction, marking those built "
        "with other values than DEEPLENS_HNSW_M / DEEPLENS_HNSW_EF_CONSTRUCTION now give; --rebuild "
        "builds those again (concurrently: search goes on meanwhile), --force every index."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", nargs="?", help="the tenant's slug (or --all)")
        parser.add_argument("--all", action="store_true", help="every active tenant")
        parser.add_argument("--rebuild", action="store_true", help="rebuild the indexes marked stale")
        parser.add_argument("--force", action="store_true", help="with --rebuild: every index")

    def handle(self, *args, tenant, all, rebuild, force, **options):
        if bool(tenant) == bool(all):
            raise CommandError("Name one tenant, or pass --all.")
        if force and not rebuild:
            raise CommandError("--force goes with --rebuild.")
        slugs = (
            [tenant]
            if tenant
            else list(tenant_list().filter(status=TenantStatus.ACTIVE).values_list("slug", flat=True))
        )
        for slug in slugs:
            try:
                with tenant_scope(slug=slug):
                    self.tenant(slug, rebuild=rebuild, force=force)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc

    def tenant(self, slug: str, *, rebuild: bool, force: bool) -> None:
        for index in vector_indexes_list():
            line = (
                f"{slug}: {index['name']} m={index['m']} ef_construction={index['ef_construction']} "
                f"{index['bytes'] / 1e6:.1f} MB{' (stale)' if index['stale'] else ''}"
            )
            self.stdout.write(line)
            if rebuild and (force or index["stale"]):
                vector_index_rebuild(model=index["model"], dimensions=index["dimensions"])
                self.stdout.write(self.style.SUCCESS(f"{slug}: {index['name']} rebuilt"))
