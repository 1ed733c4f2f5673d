"""Operator commands: reindex and stats (tenant_create and ingest_folder have their own tests)."""

import json

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from apps.images.models import Image, ImageStatus
from tests import imagefiles


@pytest.fixture
def ingested(alpha, tmp_path):
    """Two processed images and one failed one in alpha."""
    (tmp_path / "a.jpg").write_bytes(imagefiles.jpeg(300, 200))
    (tmp_path / "b.png").write_bytes(imagefiles.png_rgba())
    (tmp_path / "c.jpg").write_bytes(imagefiles.truncated_jpeg())
    call_command("ingest_folder", "alpha", str(tmp_path), "--process-now", verbosity=0)
    with tenant_context(alpha):
        return {i.original_filename: i for i in Image.objects.all()}


def rows(alpha):
    with tenant_context(alpha):
        return {i.original_filename: i for i in Image.objects.all()}


def test_reindex_recomputes_hashes_of_every_image_and_retries_failed_ones(alpha, ingested, capsys):
    assert {name: i.status for name, i in ingested.items()} == {
        "a.jpg": ImageStatus.READY,
        "b.png": ImageStatus.READY,
        "c.jpg": ImageStatus.FAILED,
    }

    call_command("reindex", "alpha", "--process-now")

    out = capsys.readouterr()
    assert "alpha: 3 images reprocessed" in out.out
    assert "reindex alpha" in out.err  # the progress bar
    after = rows(alpha)
    for name in ("a.jpg", "b.png"):
        assert after[name].status == ImageStatus.READY
        assert after[name].hashed_at > ingested[name].hashed_at
        assert after[name].thumbnails_at > ingested[name].thumbnails_at
        assert (after[name].phash, after[name].dhash, after[name].whash) == (
            ingested[name].phash,
            ingested[name].dhash,
            ingested[name].whash,
        )
    assert after["c.jpg"].status == ImageStatus.FAILED
    assert after["c.jpg"].attempts == 1


def test_reindex_failed_only_leaves_ready_images_alone(alpha, ingested, capsys):
    call_command("reindex", "alpha", "--failed-only", "--process-now", verbosity=0)

    after = rows(alpha)
    assert after["a.jpg"].hashed_at == ingested["a.jpg"].hashed_at
    assert after["c.jpg"].attempts == 1
    assert "alpha: 1 images reprocessed" in capsys.readouterr().out


def test_reindex_without_process_now_queues_the_images_as_pending(alpha, ingested, capsys, monkeypatch):
    queued = []
    from apps.images import tasks

    # The broker is real elsewhere; here only which ids are enqueued matters (the test transaction
    # never commits, so on_commit callbacks are run by hand below).
    monkeypatch.setattr(tasks.image_process_task, "delay", lambda image_id: queued.append(image_id))
    from django.db import connection

    earlier = len(connection.run_on_commit)  # ingest_folder's own, from the fixture
    call_command("reindex", "alpha", verbosity=0)
    for _savepoint, callback, _robust in connection.run_on_commit[earlier:]:
        callback()

    assert {i.status for i in rows(alpha).values()} == {ImageStatus.PENDING}
    assert sorted(queued) == sorted(str(i.pk) for i in ingested.values())
    assert "3 images queued for processing" in capsys.readouterr().out


@pytest.mark.parametrize("args", [[], ["alpha", "--all"], ["nobody"]])
def test_reindex_refuses_unclear_or_unknown_tenants(alpha, args):
    with pytest.raises(CommandError):
        call_command("reindex", *args, verbosity=0)


def test_reindex_all_covers_every_active_tenant(alpha, beta, capsys):
    call_command("reindex", "--all", "--process-now", verbosity=0)

    out = capsys.readouterr().out
    assert "alpha: 0 images reprocessed" in out
    assert "beta: 0 images reprocessed" in out


def test_stats_prints_per_tenant_rows_and_totals(alpha, beta, ingested, capsys):
    call_command("stats")

    out = capsys.readouterr().out
    lines = out.splitlines()
    alpha_row = next(line for line in lines if line.startswith("alpha "))
    assert alpha_row.split()[3:5] == ["3", "1"]
    assert any(line.startswith("beta ") for line in lines)
    assert "queues: ingest" in out
    assert "health: database ok" in out


def test_stats_json_is_the_overview(alpha, ingested, capsys):
    call_command("stats", "--json")

    stats = json.loads(capsys.readouterr().out)
    assert stats["images"] >= 3
    alpha_row = next(row for row in stats["per_tenant"] if row["slug"] == "alpha")
    assert (alpha_row["images"], alpha_row["failed"]) == (3, 1)
