from django.core.management.base import BaseCommand

from apps.storage.services.locations import installation_secrets_rotate, storage_secrets_rotate
from apps.tenants.selectors import tenant_list
from apps.tenants.services import in_tenant


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (storage credentials, webhook secrets, SSO client secrets, TOTP "
        "seeds) with "
        "the current DEEPLENS_STORAGE_KEY. Set the new key, list the old one in "
        "DEEPLENS_STORAGE_KEYS_PREVIOUS, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        total = {"storage_locations": 0, "webhook_endpoints": 0}
        for tenant in tenant_list():
            with in_tenant(tenant):
                counts = storage_secrets_rotate()
            for name, count in counts.items():
                total[name] += count
            if options["verbosity"] > 1:
                self.stdout.write(f"{tenant.slug}: {counts}")
        installation = installation_secrets_rotate()
        self.stdout.write(
            f"Re-encrypted {total['storage_locations']} storage credentials, "
            f"{total['webhook_endpoints']} webhook secrets, {installation['sso_client_secrets']} SSO client "
            f"secrets and {installation['totp_seeds']} TOTP seeds with the current key."
        )
