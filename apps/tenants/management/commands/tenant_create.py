from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import ApplicationError
from apps.tenants.models import TenantTier
from apps.tenants.services import tenant_provision


class Command(BaseCommand):
    help = "Provision a tenant: schema, migrations, default storage location and thumbnail specs."

    def add_arguments(self, parser):
        parser.add_argument(
            "slug", help="lowercase letters, digits and hyphens; the host is <slug>.<base domain>"
        )
        parser.add_argument("--name", help="display name (defaults to the slug)")
        parser.add_argument("--tier", default=TenantTier.FREE, choices=TenantTier.values)
        parser.add_argument("--domain", default="", help="host name instead of <slug>.<base domain>")

    def handle(self, *args, slug, name, tier, domain, **options):
        try:
            tenant = tenant_provision(name=name or slug, slug=slug, tier=tier, domain=domain)
        except ApplicationError as exc:
            raise CommandError(f"{exc.message} [{exc.code}]") from exc
        self.stdout.write(self.style.SUCCESS(f"Tenant {tenant.slug} is ready (schema {tenant.schema_name})."))
