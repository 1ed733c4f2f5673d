"""`make bench`: performance figures, written to one JSON file (never asserted in unit tests).

Each benchmark returns {figure: value}; the file records the machine and the medians of repeated runs.
Later work adds ingest, search and duplicate-detection benchmarks here.
"""

import argparse
import http.cookiejar
import json
import os
import platform
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.runtime.product import Product

BENCHMARKS: dict[str, Callable[[dict], dict]] = {}


def benchmark(name: str):
    def register(function):
        BENCHMARKS[name] = function
        return function

    return register


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed_requests(opener, url: str, count: int, headers: dict | None = None) -> dict:
    timings = []
    for _ in range(count):
        request = urllib.request.Request(url, headers=headers or {})
        started = time.perf_counter()
        with opener.open(request, timeout=10) as response:
            response.read()
            if "/accounts/login/" in response.geturl():
                raise RuntimeError(f"{url} redirected to the login page; the figures would be wrong")
        timings.append((time.perf_counter() - started) * 1000)
    return {
        "requests": count,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
    }


def signed_in_browser(product: Product) -> tuple:
    """A cookie-keeping opener signed in as the demo tenant admin, and the Host header for it."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_url = product.url("/accounts/login/", "demo.localhost")
    direct = {"Host": f"demo.localhost:{product.port}"}
    local_login = product.url("/accounts/login/", "127.0.0.1")
    with browser.open(urllib.request.Request(local_login, headers=direct)) as response:
        response.read()
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    body = urllib.parse.urlencode(
        {"username": "admin@demo.local", "password": "demo-admin", "csrfmiddlewaretoken": token}
    ).encode()
    login = urllib.request.Request(local_login, data=body, headers={**direct, "Referer": login_url})
    with browser.open(login) as response:
        response.read()
    return browser, direct


@benchmark("product")
def product_benchmarks(context: dict) -> dict:
    """Start-up time of `make run` (fresh data and reused data) and request latency on one client."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="deeplens-bench-") as folder:
        data = Path(folder) / "var"
        first = Product(data)
        started = time.perf_counter()
        first.start()
        results["first_start_s"] = round(time.perf_counter() - started, 2)
        first.stop()
        product = Product(data)
        started = time.perf_counter()
        product.start()
        results["second_start_s"] = round(time.perf_counter() - started, 2)
        try:
            plain = urllib.request.build_opener()
            results["healthz"] = timed_requests(plain, product.url("/healthz", "127.0.0.1"), 200)
            results["readyz"] = timed_requests(plain, product.url("/readyz", "127.0.0.1"), 100)
            browser, direct = signed_in_browser(product)
            results["dashboard"] = timed_requests(browser, product.url("/", "127.0.0.1"), 100, headers=direct)
        finally:
            product.stop()
    return results


@benchmark("ingest")
def ingest(context: dict) -> dict:
    from tests.benchmarks.ingest import ingest_benchmark

    return ingest_benchmark(context)


@benchmark("embed")
def embed(context: dict) -> dict:
    from tests.benchmarks.embed import embed_benchmark

    return embed_benchmark(context)


@benchmark("search")
def search(context: dict) -> dict:
    from tests.benchmarks.search import search_benchmark

    return search_benchmark(context)


@benchmark("duplicates")
def duplicates(context: dict) -> dict:
    from tests.benchmarks.duplicates import duplicates_benchmark

    return duplicates_benchmark(context)


@benchmark("scan")
def scan(context: dict) -> dict:
    from tests.benchmarks.scan import scan_benchmark

    return scan_benchmark(context)


@benchmark("scale")
def scale(context: dict) -> dict:
    from tests.benchmarks.scale import scale_benchmark

    return scale_benchmark(context)


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="var/bench/results.json")
    parser.add_argument("--only", nargs="*", help="names of benchmarks to run (default: all)")
    args = parser.parse_args()

    context: dict = {}
    results = {}
    for name, function in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"[bench] {name} ...", flush=True)
        results[name] = function(context)
        print(f"[bench] {name}: {json.dumps(results[name])}", flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "results": results,
            },
            indent=2,
        )
    )
    print(f"[bench] figures written to {out}")


if __name__ == "__main__":
    main()
