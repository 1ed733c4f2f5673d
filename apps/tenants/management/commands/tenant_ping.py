from celery.exceptions import TimeoutError as CeleryTimeout
from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.tenants.selectors import tenant_get_by_slug
from apps.tenants.tasks import tenant_ping_task


class Command(BaseCommand):
    help = "Send a task to the workers in a tenant's context and print what they answer."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--timeout", type=float, default=10.0)

    def handle(self, *args, slug, timeout, **options):
        tenant = tenant_get_by_slug(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}.")
        with tenant_context(tenant):
            result = tenant_ping_task.delay()
        try:
            self.stdout.write(str(result.get(timeout=timeout)))
        except CeleryTimeout as exc:
            raise CommandError(
                f"No worker answered within {timeout:g} s; is `celery worker` running?"
            ) from exc
