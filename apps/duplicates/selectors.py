"""Reading duplicate groups: a page of groups (keyset-friendly indexes, no N x N), one group."""

import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from apps.core.filtering import FilterData, apply_filters
from apps.core.prepared import Prepared
from apps.duplicates.features import Features
from apps.duplicates.filters import GroupFilter
from apps.duplicates.models import (
    Dismissal,
    Group,
    GroupStatus,
    Kind,
    Member,
    Pair,
    Resolution,
    Signature,
    TrashedCopy,
)
from apps.duplicates.signatures import FEATURE_COLUMNS, features_from_columns
from apps.images.models import Image, ImageStatus


def group_list(*, filters: FilterData | None = None) -> QuerySet[Group]:
    """The groups GroupFilter selects from `filters` (by default the open ones, most space first);
    raises InvalidFilter for a value it does not know."""
    return apply_filters(GroupFilter, filters, Group.objects.all())


def with_image_state(copies: QuerySet[TrashedCopy]) -> QuerySet[TrashedCopy]:
    """Each trashed copy with `exists` (False once purged) and `deleted_at` (None once restored)."""
    image = Image.objects.filter(pk=OuterRef("image_id"))
    return copies.annotate(exists=Exists(image), deleted_at=Subquery(image.values("deleted_at")[:1]))


def with_members(groups):
    members = Member.objects.select_related("image__storage_location").order_by("image__created_at")
    return groups.prefetch_related(
        Prefetch("members", queryset=members),
        Prefetch("trashed_copies", queryset=with_image_state(TrashedCopy.objects.all())),
    )


def group_get(*, group_id) -> Group | None:
    return with_members(Group.objects.filter(pk=group_id)).first()


def resolution_get(*, resolution_id) -> Resolution | None:
    return Resolution.objects.filter(pk=resolution_id).first()


def resolution_of_job(*, job_id) -> Resolution | None:
    """A resolve-all job's resolution (None before the job started resolving)."""
    return Resolution.objects.filter(job_id=job_id).first()


def resolutions_recent(*, limit: int = 5) -> list[Resolution]:
    """The newest resolutions not yet undone (the review page offers their Undo)."""
    return list(Resolution.objects.filter(undone_at__isnull=True).select_related("job")[:limit])


# The image five times (a prepared statement: its planning was most of its cost).
MATCHES_STORED_SQL = """
SELECT CASE WHEN p.image_a_id = %s THEN p.image_b_id ELSE p.image_a_id END, p.kind, p.signal, p.score
FROM {pair} p
WHERE (p.image_a_id = %s OR p.image_b_id = %s)
  AND NOT EXISTS (
    SELECT 1 FROM {dismissal} d WHERE d.image_a_id = p.image_a_id AND d.image_b_id = p.image_b_id)
UNION ALL
SELECT o.image_id, '{near}', 'group', 0.0
FROM {member} m JOIN {group} g ON g.id = m.group_id AND g.status = '{open}' AND g.kind <> '{similar}'
JOIN {member} o ON o.group_id = m.group_id AND o.image_id <> %s
WHERE m.image_id = %s
"""


def matches_stored_statement(*, image_id) -> Prepared:
    """The statement that reads the images detection decided duplicate a stored image: its pairs
    (except those a person dismissed), and the other members of its open exact and near groups
    (signal "group": duplicates through another copy; similar groups are no copies). Run it
    together with others (a search by id sends it with the read of its image); matches_from()
    makes its rows {image_id: (kind, signal, score)}."""
    sql = MATCHES_STORED_SQL.format(
        pair=Pair._meta.db_table,
        dismissal=Dismissal._meta.db_table,
        member=Member._meta.db_table,
        group=Group._meta.db_table,
        near=Kind.NEAR.value,
        open=GroupStatus.OPEN.value,
        similar=Kind.SIMILAR.value,
    )
    return Prepared(sql, [str(image_id)] * 5, ["uuid"] * 5)


def matches_from(rows) -> dict:
    out: dict = {}
    for other, kind, signal, score in rows:
        out.setdefault(other, (kind, signal, score))  # a pair before the group
    return out


def open_memberships(*, image_ids) -> QuerySet[Member]:
    """The memberships of these images in open exact or near groups (a similar group is not one of
    duplicates). candidates_stored() selects the same in SQL."""
    return Member.objects.filter(image_id__in=list(image_ids), group__status=GroupStatus.OPEN).exclude(
        group__kind=Kind.SIMILAR
    )


def open_groups_of(*, image_ids) -> dict:
    """{image_id: group_id} for the images among `image_ids` in an open exact or near group."""
    return dict(open_memberships(image_ids=image_ids).values_list("image_id", "group_id"))


@dataclass(frozen=True)
class StoredCandidate:
    image_id: uuid.UUID
    sha256: str
    features: Features
    group_id: object | None  # of the open exact or near group it is in (None: none, or not asked)


def candidates_stored(*, image_ids: list, groups: bool) -> list[StoredCandidate]:
    """The live, ready images among `image_ids` that have a signature, with its features, their
    SHA-256 and, with `groups`, the open exact or near group each is in: what verification reads of
    its candidates, in one statement (the index stage's hot path: as three ORM reads, their
    compiling alone cost more than the statements)."""
    if not image_ids:
        return []
    columns = ", ".join(f"s.{name}" for name in FEATURE_COLUMNS)
    # The membership open_memberships() selects (an open group, not a similar one), as SQL: keep
    # the two alike.
    group = (
        f"""(SELECT m.group_id FROM {Member._meta.db_table} m
              JOIN {Group._meta.db_table} g ON g.id = m.group_id
             WHERE m.image_id = s.image_id AND g.status = %s AND g.kind <> %s LIMIT 1)"""
        if groups
        else "NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.image_id, i.sha256, {group}, {columns}
            FROM {Signature._meta.db_table} s
            JOIN {Image._meta.db_table} i ON i.id = s.image_id
            WHERE s.image_id = ANY(%s) AND i.deleted_at IS NULL AND i.status = %s
            """,
            [*([GroupStatus.OPEN, Kind.SIMILAR] if groups else []), list(image_ids), ImageStatus.READY],
        )
        return [
            StoredCandidate(
                image_id=row[0], sha256=row[1], group_id=row[2], features=features_from_columns(*row[3:])
            )
            for row in cursor.fetchall()
        ]


def group_members_of(*, image_ids, limit: int) -> list:
    """The other live, ready members of the open exact or near groups these images are in (at most
    `limit`), in one query."""
    groups = open_memberships(image_ids=image_ids).values("group_id")
    return list(
        Member.objects.filter(
            group_id__in=groups, image__deleted_at__isnull=True, image__status=ImageStatus.READY
        )
        .exclude(image_id__in=list(image_ids))
        .order_by("group_id", "image_id")
        .values_list("image_id", flat=True)[:limit]
    )
