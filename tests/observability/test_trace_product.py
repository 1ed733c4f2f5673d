"""One trace from the upload request through every stage in the worker, with the whole product
running as `make run` runs it (gunicorn, a prefork Celery worker, beat) and spans exported to a file."""

import json
import re

import pytest

from scripts.example_trace import run_example, tree

pytestmark = pytest.mark.slow


def test_an_upload_and_its_worker_stages_share_one_trace_and_show_in_metrics_and_logs(tmp_path):
    result = run_example(tmp_path / "out", data_dir=tmp_path / "var")
    spans = result["spans"]
    by_name = {span["name"]: span for span in spans}

    request = by_name["POST api/v1/images/upload"]
    publish = by_name["apply_async/ingest.process_image"]
    run = by_name["run/ingest.process_image"]
    assert {span["trace_id"] for span in spans} == {result["trace_id"]}
    assert (request["service"], request["kind"], request["parent_id"]) == ("deeplens-web", "SERVER", None)
    assert request["attributes"]["http.status_code"] == 202
    assert (publish["service"], publish["parent_id"]) == ("deeplens-web", request["span_id"])
    assert (run["service"], run["kind"], run["parent_id"]) == (
        "deeplens-worker",
        "CONSUMER",
        publish["span_id"],
    )
    assert run["pid"] != request["pid"]
    for stage in ("image.decode", "image.thumbnails", "image.hashes", "image.process"):
        assert by_name[stage]["parent_id"] == run["span_id"], stage
        assert by_name[stage]["attributes"]["image_id"] == result["image_id"]
    worker_sql = [s for s in spans if s["service"] == "deeplens-worker" and s["attributes"].get("db.system")]
    parents = {s["span_id"]: s["parent_id"] for s in spans}

    def under_run(span) -> bool:
        parent = span["parent_id"]
        while parent and parent != run["span_id"]:
            parent = parents.get(parent)
        return parent == run["span_id"]

    assert worker_sql and all(under_run(s) for s in worker_sql)
    assert any(s["name"] == "LPUSH" for s in spans)  # Redis, as the broker
    assert "run/ingest.process_image" in tree(spans)
    assert (tmp_path / "out" / "example.jsonl").read_text().count("\n") == len(spans)

    metrics = result["metrics"]

    def value(sample: str) -> float:
        found = re.search(rf"^{re.escape(sample)} ([0-9.e+]+)$", metrics, re.M)
        return float(found.group(1)) if found else -1.0

    # At least the upload's image (the worker may also have taken others of the demo tenant).
    assert "# TYPE deeplens_images_ingested_total counter" in metrics
    for stage in ("decode", "thumbnails", "hashes", "total"):
        assert value(f'deeplens_stage_duration_seconds_count{{stage="{stage}"}}') >= 1, stage
    assert value('deeplens_queue_depth{queue="ingest"}') >= 0

    log_lines = [
        json.loads(line)
        for line in (tmp_path / "out" / "runner.log").read_text().splitlines()
        if line.startswith("{")
    ]
    task_done = next(
        line
        for line in log_lines
        if "ingest.process_image" in line["message"] and "succeeded" in line["message"]
    )
    assert task_done["tenant"] == "demo"
    assert task_done["trace_id"] == result["trace_id"]
    assert task_done["task"] == "ingest.process_image"
