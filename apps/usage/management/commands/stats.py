import json

from django.core.management.base import BaseCommand
from django.template.defaultfilters import filesizeformat

from apps.usage.selectors import stats_overview

ROW = "{:<20} {:<11} {:<10} {:>9} {:>7} {:>10} {:>12}"


class Command(BaseCommand):
    help = "Figures per tenant and in total: images, failures, storage, API calls, queues, health."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def handle(self, *args, **options):
        stats = stats_overview()
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2, default=str))
            return
        header = ROW.format("tenant", "tier", "status", "images", "failed", "storage", "calls today")
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for row in stats["per_tenant"]:
            self.stdout.write(
                ROW.format(
                    row["slug"],
                    row["tier"],
                    row["status"],
                    f"{row['images']:,}",
                    f"{row['failed']:,}",
                    filesizeformat(row["storage_used"]),
                    f"{row['api_calls_today']:,}",
                )
            )
        self.stdout.write("-" * len(header))
        self.stdout.write(
            ROW.format(
                "total",
                f"{stats['tenants']['total']} tenants",
                "",
                f"{stats['images']:,}",
                f"{stats['failed_images']:,}",
                filesizeformat(stats["storage_used"]),
                f"{stats['api_calls_today']:,}",
            )
        )
        self.stdout.write(f"users: {stats['users']:,}   API calls this month: {stats['api_calls_month']:,}")
        queues = ", ".join(f"{name} {'?' if n is None else n}" for name, n in stats["queues"].items())
        self.stdout.write(f"queues: {queues}")
        health = ", ".join(f"{name} {'ok' if ok else 'FAILING'}" for name, ok in stats["health"].items())
        self.stdout.write(f"health: {health}")
