"""Produce an example trace and metrics page: `make example-trace` (or python -m scripts.example_trace).

Starts the whole product as `make run` does (embedded PostgreSQL and Redis, gunicorn, a Celery
worker, beat) in its own data directory with DEEPLENS_TRACING=file and JSON logs, signs in as the
demo admin, uploads one JPEG, waits until the worker has processed it, scrapes /metrics from
loopback, stops everything, and writes to OUT (default var/traces):

    example.jsonl      the spans of the upload's trace: the web request, the task it enqueued and
                       the worker's stages (one JSON object per span)
    all-spans.jsonl    every span every process exported during the run
    metrics.txt        the /metrics page after the upload
    runner.log         the product's output (JSON log lines of web and worker)
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.imagefiles import jpeg  # noqa: E402
from tests.runtime.product import Product  # noqa: E402

REQUEST_ID = "example-trace-upload"


def _call(
    product: Product, method: str, path: str, *, host: str, body=b"", headers=None
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{product.port}{path}", data=body or None, method=method, headers=headers or {}
    )
    request.add_header("Host", f"{host}:{product.port}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def run_example(out: Path, *, data_dir: Path | None = None) -> dict:
    """Run the scenario; return {trace_id, image_id, spans (of the trace), metrics (text)}."""
    out.mkdir(parents=True, exist_ok=True)
    spans_file = out / "all-spans.jsonl"
    spans_file.unlink(missing_ok=True)
    own_dir = data_dir is None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="deeplens-example-trace-"))
    product = Product(
        data_dir,
        extra_env={
            "DEEPLENS_TRACING": "file",
            "DEEPLENS_TRACE_FILE": str(spans_file),
            "DEEPLENS_LOG_FORMAT": "json",
        },
    )
    try:
        product.start()
        host = "demo.localhost"
        status, body = _call(
            product,
            "POST",
            "/api/v1/auth/login",
            host=host,
            body=json.dumps(
                {"tenant": "demo", "email": "admin@demo.local", "password": "demo-admin"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 200, body
        auth = {"Authorization": f"Bearer {json.loads(body)['access']}"}
        payload, content_type = _multipart("example.jpg", jpeg(1600, 1200))
        status, body = _call(
            product,
            "POST",
            "/api/v1/images/upload",
            host=host,
            body=payload,
            headers={**auth, "Content-Type": content_type, "X-Request-ID": REQUEST_ID},
        )
        assert status == 202, body
        image_id = json.loads(body)["id"]
        deadline = time.monotonic() + 60
        while True:
            status, body = _call(product, "GET", f"/api/v1/images/{image_id}/status", host=host, headers=auth)
            if json.loads(body)["status"] in ("ready", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert json.loads(body)["status"] == "ready", body
        status, metrics = _call(product, "GET", "/metrics", host="localhost")
        assert status == 200, metrics
        (out / "metrics.txt").write_bytes(metrics)
    finally:
        product.stop()
        if product.log_path and product.log_path.exists():
            shutil.copy(product.log_path, out / "runner.log")
        if own_dir:
            shutil.rmtree(data_dir, ignore_errors=True)

    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    upload = next(
        s
        for s in spans
        if s["kind"] == "SERVER" and str(s["attributes"].get("http.route", "")).endswith("images/upload")
    )
    trace = sorted((s for s in spans if s["trace_id"] == upload["trace_id"]), key=lambda s: s["start_ns"])
    (out / "example.jsonl").write_text("".join(json.dumps(s) + "\n" for s in trace))
    return {"trace_id": upload["trace_id"], "image_id": image_id, "spans": trace, "metrics": metrics.decode()}


def tree(spans: list[dict]) -> str:
    children: dict = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)
    ids = {span["span_id"] for span in spans}
    lines = []

    def walk(span, depth):
        lines.append(
            f"{'  ' * depth}{span['name']}  [{span['service']} pid {span['pid']}, {span['duration_ms']} ms]"
        )
        for child in children.get(span["span_id"], []):
            walk(child, depth + 1)

    for root in [s for s in spans if s["parent_id"] not in ids]:
        walk(root, 0)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default=str(ROOT / "var" / "traces"))
    args = parser.parse_args()
    result = run_example(Path(args.out))
    print(f"trace {result['trace_id']}: {len(result['spans'])} spans -> {args.out}/example.jsonl")
    print(tree(result["spans"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
