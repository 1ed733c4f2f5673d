"""CPU of the index stage per image, measured inside a running product's database (`make bench`
stages duplicates and scale run it as a subprocess with DEEPLENS_DATA_DIR set to the product's).

For each of N stored images it runs what `image_index` runs before grouping: the decode and the
features (signature + search descriptor), then the candidate search and verification
(`matches_find(..., skip_grouped=True)`). Nothing is written. CPU is counted in this process
(`time.process_time`) and in its PostgreSQL backend (psutil on the backend's pid), so other load on
the machine does not inflate it the way wall-clock time would. The backend's CPU is read from the
kernel in clock ticks (10 ms): per image it is 0, 10 or 20 ms, so its median moves in steps of 10;
the mean over the images is the figure to compare.

    DEEPLENS_DATA_DIR=<product data dir> python -m tests.benchmarks.index_cpu 200   # prints JSON
"""

import json
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(count: int, schema: str = "demo", where: str = "") -> dict:
    import django

    django.setup()
    import psutil
    from django.db import connection
    from django_tenants.utils import schema_context

    from apps.duplicates import candidates
    from apps.duplicates.services import detection
    from apps.images.models import Image, ImageStatus

    def backend_cpu() -> float:
        times = psutil.Process(backend).cpu_times()
        return times.user + times.system

    figures: dict[str, list[float]] = {
        "features": [],
        "candidates_and_verification": [],
        "worker": [],
        "database": [],
        "total": [],
    }
    with schema_context(schema):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        images = Image.objects.select_related("storage_location").filter(status=ImageStatus.READY)
        if where:
            images = images.filter(original_filename__startswith=where)
        for image in images.order_by("original_filename")[:count]:
            db0, started = backend_cpu(), time.process_time()
            features, vector = detection.features_compute(image)
            computed = time.process_time()
            query = candidates.Query(
                image_id=image.pk, sha256=image.sha256, features=features, descriptor=vector
            )
            detection.matches_find(query, skip_grouped=True)
            ended = time.process_time()
            db = backend_cpu() - db0
            figures["features"].append(computed - started)
            figures["candidates_and_verification"].append(ended - computed)
            figures["worker"].append(ended - started)
            figures["database"].append(db)
            figures["total"].append(ended - started + db)
    return {
        "images": len(figures["total"]),
        **{
            f"{name}_cpu_ms": {
                "median": round(statistics.median(values) * 1000, 1),
                "mean": round(statistics.mean(values) * 1000, 1),
                "p95": round(percentile(values, 0.95) * 1000, 1),
            }
            for name, values in figures.items()
            if values
        },
    }


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(json.dumps(measure(count, where=os.environ.get("DEEPLENS_BENCH_INDEX_CPU_WHERE", ""))))
