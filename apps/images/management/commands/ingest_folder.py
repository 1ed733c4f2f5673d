from pathlib import Path

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from apps.audit.context import Actor
from apps.core.errors import ApplicationError
from apps.images.services import image_ingest, image_process
from apps.tenants.services import tenant_scope


class Command(BaseCommand):
    help = "Ingest every image in a local folder into a tenant, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("folder")
        parser.add_argument("--recursive", "-r", action="store_true", help="include subfolders")
        parser.add_argument("--tag", action="append", default=[], help="a tag for every image (repeatable)")
        parser.add_argument(
            "--storage", default=None, help="id of the storage location (default: the default)"
        )
        parser.add_argument(
            "--process-now",
            action="store_true",
            help="process here instead of on the workers (when no worker runs)",
        )

    def handle(self, *args, tenant, folder, recursive, tag, storage, process_now, **options):
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder.")
        files = sorted(p for p in (root.rglob("*") if recursive else root.iterdir()) if p.is_file())
        accepted = skipped = 0
        problems: list[str] = []
        try:
            with tenant_scope(slug=tenant) as scoped:
                for path in tqdm(files, desc="ingest", unit="file", disable=options["verbosity"] == 0):
                    try:
                        with path.open("rb") as handle, transaction.atomic():
                            image = image_ingest(
                                tenant=scoped,
                                file=File(handle, name=path.name),
                                filename=path.name,
                                actor=Actor.system(),
                                location_id=storage,
                                tags=tag,
                            )
                    except ApplicationError as exc:
                        skipped += 1
                        problems.append(f"{path}: {exc.message}")
                        continue
                    accepted += 1
                    if process_now:
                        image_process(image_id=image.pk, tenant_slug=scoped.slug)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for problem in problems[:50]:
            self.stderr.write(f"skipped {problem}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{accepted} images ingested into {tenant}, {skipped} files skipped"
                + ("" if process_now else "; the workers process them now.")
            )
        )
