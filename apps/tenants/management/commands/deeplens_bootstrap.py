from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import Role
from apps.accounts.services import user_ensure
from apps.tenants.models import TenantStatus, TenantTier
from apps.tenants.selectors import tenant_get_by_slug
from apps.tenants.services import tenant_ensure_public, tenant_provision

DEMO_SLUG = "demo"


class Command(BaseCommand):
    help = "Idempotently seed the public site, a global admin and the demo tenant with two users."

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-demo", action="store_true", help="seed only the public site and global admin"
        )

    def handle(self, *args, no_demo=False, **options):
        tenant_ensure_public()
        user_ensure(
            tenant=None,
            email=settings.DEEPLENS_SUPERUSER_EMAIL,
            password=settings.DEEPLENS_SUPERUSER_PASSWORD,
            role=Role.GLOBAL_ADMIN,
        )
        if no_demo:
            return
        demo = tenant_get_by_slug(slug=DEMO_SLUG)
        if demo is None or demo.status == TenantStatus.PENDING_SETUP:
            # Enterprise: a first drag and drop of a few hundred photos should not meet a rate limit.
            demo = tenant_provision(name="Demo", slug=DEMO_SLUG, tier=TenantTier.ENTERPRISE)
        with transaction.atomic():
            user_ensure(
                tenant=demo,
                email=settings.DEEPLENS_DEMO_ADMIN_EMAIL,
                password=settings.DEEPLENS_DEMO_ADMIN_PASSWORD,
                role=Role.ADMIN,
                first_name="Demo",
                last_name="Admin",
            )
            user_ensure(
                tenant=demo,
                email=settings.DEEPLENS_DEMO_MEMBER_EMAIL,
                password=settings.DEEPLENS_DEMO_MEMBER_PASSWORD,
                role=Role.MEMBER,
                first_name="Demo",
                last_name="Member",
            )
        self.stdout.write("Seeded the global admin and the demo tenant.")
