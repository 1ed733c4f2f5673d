import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.audit.context import Actor
from apps.core.errors import ApplicationError
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.storage.models import StorageLocation
from apps.storage.services.scanning import scan_start
from apps.tenants.services import tenant_scope


class Command(BaseCommand):
    help = (
        "Rescan a tenant's index-only storage locations (new, changed and vanished objects), on the "
        "workers or here with --now, with a progress bar."
    )

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("--location", help="a location's id or name (default: every index-only one)")
        parser.add_argument("--prefix", default="", help="only objects under this prefix")
        parser.add_argument("--now", action="store_true", help="scan in this process (when no worker runs)")
        parser.add_argument("--no-wait", action="store_true", help="start the scans and return")

    def handle(self, *args, tenant, location, prefix, now, no_wait, **options):
        quiet = options["verbosity"] == 0
        try:
            with tenant_scope(slug=tenant) as scoped:
                locations = StorageLocation.objects.filter(index_only=True)
                if location:
                    by_id = locations.filter(pk=location) if _is_uuid(location) else locations.none()
                    locations = by_id or locations.filter(name=location)
                if not locations:
                    raise CommandError(f"{tenant} has no index-only location {location or ''}".strip() + ".")
                for target in locations:
                    job = scan_start(tenant=scoped, actor=Actor.system(), location=target, prefix=prefix)
                    if now:
                        job_run(job_id=job.pk)
                    elif not no_wait:
                        self._follow(job, target.name, quiet)
                    job.refresh_from_db()
                    self.stdout.write(
                        self.style.SUCCESS(
                            f"{target.name}: {job.state}; {job.total} objects listed, {job.processed} new or "
                            f"changed images, {job.skipped} skipped, {job.failed} failed, "
                            f"{job.params.get('missing', 0)} gone"
                        )
                    )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

    def _follow(self, job: Job, name: str, quiet: bool) -> None:
        with tqdm(desc=f"scan {name}", unit=" objects", disable=quiet) as bar:
            while True:
                job.refresh_from_db()
                bar.total = max(job.total, bar.n)
                bar.update(job.total - bar.n)
                if job.state in Job.FINISHED:
                    return
                time.sleep(0.5)


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
