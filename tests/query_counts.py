"""N-vs-2N query counts of list endpoints and pages: an N+1 fails, whatever the fixed cost is.

A list test makes N rows carrying everything a row can carry (tags, thumbnails, members, related
users...), asks once to warm what is cached per process or per session, counts the queries of one
request, makes N more rows, counts again, and asserts the two counts are equal. It also asserts the
second answer lists exactly N rows more, so a test whose rows are not listed cannot pass.
"""

import re
from collections import Counter
from collections.abc import Callable
from itertools import count

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core import process_cache
from apps.duplicates.models import Group, GroupStatus, Kind, Member
from apps.images.models import (
    Image,
    ImageFormat,
    ImageStage,
    ImageStatus,
    Stage,
    StageState,
    Thumbnail,
    ThumbnailFormat,
)
from apps.storage.models import StorageLocation
from apps.tenants.models import Tenant
from tests.factories import StorageLocationFactory, UserFactory

N = 3


def _shape(sql: str) -> str:
    """The query without its literals, so the same query for two rows counts as one shape."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\b\d+(?:\.\d+)?\b", "?", sql)
    return re.sub(r"\bIN \([^()]*\)", "IN (...)", sql)


def _explain(at_n: list[dict], at_2n: list[dict]) -> str:
    before, after = Counter(_shape(q["sql"]) for q in at_n), Counter(_shape(q["sql"]) for q in at_2n)
    changed = [
        f"  {after[shape] - before[shape]:+d} x {shape[:400]}"
        for shape in before | after
        if after[shape] != before[shape]
    ]
    return "\n".join([f"{len(at_n)} queries with N rows, {len(at_2n)} with 2N; changed:", *changed])


def assert_flat_queries(*, listed: Callable[[], int], add: Callable[[], None], n: int = N) -> int:
    """`add()` makes rows (n of them the second time); `listed()` makes the request, asserts it
    succeeded and returns how many of the rows it listed (reading a streamed body inside).
    Returns the query count."""
    add()
    listed()  # warm-up: per-session and per-connection caches, last-used stamps written once a minute
    process_cache.clear()
    with CaptureQueriesContext(connection) as at_n:
        rows_n = listed()
    add()
    process_cache.clear()
    with CaptureQueriesContext(connection) as at_2n:
        rows_2n = listed()
    assert rows_n > 0, "none of the rows made is listed"
    assert rows_2n == rows_n + n, f"{rows_n} rows listed, then {rows_2n} after {n} more were made"
    assert len(at_2n.captured_queries) == len(at_n.captured_queries), _explain(
        at_n.captured_queries, at_2n.captured_queries
    )
    return len(at_n.captured_queries)


# Rows made the cheap way (the ORM, in the tenant's schema): no files, no worker. The list
# endpoints and pages read rows only.

_serial = count(1)


def image_rows(
    n: int,
    *,
    tenant: Tenant,
    status: str = ImageStatus.READY,
    deleted: bool = False,
    location: StorageLocation | None = None,
) -> list[Image]:
    """n images, each with its own uploader and (unless given) storage location, tags, EXIF,
    hashes, the three thumbnails and the later stages (index, detect) of a ready image."""
    now = timezone.now()
    made = []
    for _ in range(n):
        i = next(_serial)
        image = Image.objects.create(
            original_filename=f"qc-{i}.jpg",
            format=ImageFormat.JPEG,
            content_type="image/jpeg",
            width=1200 + i,
            height=800,
            size_bytes=1000 * i,
            sha256=f"{i:064x}",
            phash=i,
            dhash=-i,
            whash=i * 7,
            storage_location=location or StorageLocationFactory(name=f"qc location {i}"),
            storage_key=f"originals/qc-{i}.jpg",
            uploaded_by=UserFactory(tenant=tenant, email=f"qc-uploader-{i}@{tenant.slug}.test"),
            status=status,
            failed_stage=Stage.DECODE if status == ImageStatus.FAILED else "",
            failure_reason="cannot identify image file" if status == ImageStatus.FAILED else "",
            processed_at=now if status == ImageStatus.READY else None,
            exif={"make": "Canon", "model": "EOS R5"},
            taken_at=now,
            camera="Canon EOS R5",
            tags=["sea", f"tag-{i}"],
            deleted_at=now if deleted else None,
        )
        Thumbnail.objects.bulk_create(
            Thumbnail(
                image=image,
                spec=spec,
                spec_version=f"{width}x{width}-webp-q80",
                storage_key=f"thumbnails/qc-{i}-{spec}.webp",
                format=ThumbnailFormat.WEBP,
                width=width,
                height=width * 2 // 3,
                size_bytes=width * 10,
            )
            for spec, width in (("small", 150), ("medium", 400), ("large", 800))
        )
        if status == ImageStatus.READY:
            ImageStage.objects.bulk_create(
                ImageStage(image=image, stage=stage, state=StageState.DONE, finished_at=now)
                for stage in ("index", "detect")
            )
        made.append(image)
    return made


def group_rows(n: int, *, tenant: Tenant, members: int = 3) -> list[Group]:
    """n open exact-duplicate groups of `members` images each, the first one the suggested keeper."""
    made = []
    for _ in range(n):
        images = image_rows(members, tenant=tenant)
        group = Group.objects.create(
            kind=Kind.EXACT,
            status=GroupStatus.OPEN,
            member_count=members,
            total_bytes=sum(image.size_bytes for image in images),
            reclaimable_bytes=sum(image.size_bytes for image in images[1:]),
            suggested_keeper=images[0],
            keeper_reason="largest file",
        )
        Member.objects.bulk_create(Member(group=group, image=image) for image in images)
        made.append(group)
    return made
