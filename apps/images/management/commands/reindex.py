import functools

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from apps.core.errors import ApplicationError
from apps.images.services import image_process
from apps.images.services.reindex import images_for_reindex, images_reindex_reset
from apps.tenants.models import TenantStatus
from apps.tenants.selectors import tenant_list
from apps.tenants.services import tenant_scope

CHUNK = 500


class Command(BaseCommand):
    help = (
        "Re-run processing (thumbnails and hashes) for a tenant's images through the processing "
        "tasks, with a progress bar. Images a worker holds right now are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", nargs="?", help="the tenant's slug (or --all)")
        parser.add_argument("--all", action="store_true", help="every active tenant")
        parser.add_argument("--failed-only", action="store_true", help="only images whose processing failed")
        parser.add_argument(
            "--process-now",
            action="store_true",
            help="process here instead of on the workers (when no worker runs)",
        )

    def handle(self, *args, tenant, all, failed_only, process_now, **options):
        if bool(tenant) == bool(all):
            raise CommandError("Name one tenant, or pass --all.")
        slugs = (
            [tenant]
            if tenant
            else list(tenant_list().filter(status=TenantStatus.ACTIVE).values_list("slug", flat=True))
        )
        quiet = options["verbosity"] == 0
        for slug in slugs:
            try:
                with tenant_scope(slug=slug) as scoped:
                    count = self.reindex(scoped, failed_only, process_now, quiet)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(
                self.style.SUCCESS(
                    f"{slug}: {count} images "
                    + (
                        "reprocessed"
                        if process_now
                        else "queued for processing; the workers process them now"
                    )
                )
            )

    def reindex(self, tenant, failed_only, process_now, quiet) -> int:
        from apps.images.tasks import image_process_task

        ids = list(images_for_reindex(failed_only=failed_only).values_list("pk", flat=True))
        done = 0
        with tqdm(total=len(ids), desc=f"reindex {tenant.slug}", unit="image", disable=quiet) as bar:
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                with transaction.atomic():
                    done += images_reindex_reset(image_ids=chunk)
                    if not process_now:
                        for image_id in chunk:
                            transaction.on_commit(
                                functools.partial(image_process_task.delay, image_id=str(image_id))
                            )
                if process_now:
                    for image_id in chunk:
                        image_process(image_id=image_id, tenant_slug=tenant.slug)
                        bar.update(1)
                else:
                    bar.update(len(chunk))
        return done
