"""Where candidates come from, and how a pair is decided.

A candidate source answers "which stored images might be duplicates of this one?" with a bounded
list (never N x N). Each is a `CandidateSource`; the embeddings and the weight-free descriptor of
the search app plug in here as one more source (nearest neighbours in pgvector above a similarity),
and as one more `PairSignal` once their scores are calibrated. The decision (`decide`) then combines
the signals of one pair:

  exact     same SHA-256 of the bytes
  near      pHash in some orientation within PHASH_ACCEPT bits, or ORB + RANSAC verified with the
            aligned thumbnails correlating above CORRELATION_ACCEPT
"""

import uuid
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from django.db import connection

from apps.core.prepared import execute_prepared
from apps.duplicates import features as F
from apps.duplicates import matching as M
from apps.duplicates.models import Kind, Signature
from apps.duplicates.signatures import anchor_bits, bands

# Thresholds chosen with margin on the public bench (results stable from 0.70 to 0.75 and 6 to 8 bits;
# no false pair below 12 bits or above 0.63 correlation there): see README "Duplicates".
PHASH_ACCEPT = 6
PHASH_CANDIDATE = 20
MIN_INLIERS = 8
CORRELATION_ACCEPT = 0.72
ANCHOR_NEIGHBOURS = 8
ANCHOR_MAX_DISTANCE = 40
ANCHOR_MIN_VOTES = 2
# HNSW candidate list per anchor: 16 keeps 98 % of the anchor candidates found at 40 on the public
# bench for half the database CPU (38 -> 17 ms per image for its 96 anchor searches), with the same
# groups (bench F1 0.9878 at 16 and at 40).
ANCHOR_EF_SEARCH = 16
MAX_CANDIDATES = 30
# The weight-free descriptor ranks well but its absolute similarities are high even for unrelated
# photos (99th percentile 0.965 on the public bench): its nearest few are candidates, all verified.
DESCRIPTOR_NEIGHBOURS = 10
DESCRIPTOR_CANDIDATE = 0.85


@dataclass(frozen=True)
class Query:
    image_id: uuid.UUID | None  # None for a lookup that is not stored
    sha256: str
    features: F.Features
    descriptor: np.ndarray | None = None  # the search app's weight-free descriptor


class CandidateSource(Protocol):
    name: str

    def candidates(self, query: Query, *, limit: int) -> list: ...


class ExactSource:
    name = "sha256"

    def candidates(self, query: Query, *, limit: int) -> list:
        from apps.images.models import Image

        if not query.sha256:
            return []
        with connection.cursor() as cursor:  # not through the ORM: on the index stage's hot path
            cursor.execute(
                f"SELECT id FROM {Image._meta.db_table} WHERE sha256 = %s AND deleted_at IS NULL "
                "AND id IS DISTINCT FROM %s LIMIT %s",
                [query.sha256, query.image_id, limit],
            )
            return [row[0] for row in cursor.fetchall()]


class HashBandSource:
    """Images whose upright pHash shares a 16-bit band with any orientation of the query's."""

    name = "phash"

    def candidates(self, query: Query, *, limit: int) -> list:
        values = [bands(int(h)) for h in query.features.phashes]
        where = " OR ".join(f"band{i} = ANY(%s)" for i in range(4))
        params = [sorted({v[i] for v in values}) for i in range(4)]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT image_id, phashes FROM {Signature._meta.db_table} WHERE ({where}) LIMIT 2000",
                params,
            )
            rows = [
                (image_id, phashes) for image_id, phashes in cursor.fetchall() if image_id != query.image_id
            ]
        if not rows:
            return []
        distances = M.phash_distances(query.features.phashes, M.as_hashes([p for _i, p in rows]))
        near = sorted(
            (
                (d, image_id)
                for d, (image_id, _p) in zip(distances.tolist(), rows, strict=True)
                if d <= PHASH_CANDIDATE
            ),
            key=lambda t: t[0],
        )
        return [image_id for _d, image_id in near[:limit]]


class AnchorSource:
    """Images sharing at least ANCHOR_MIN_VOTES strong ORB descriptors with the query, through the
    HNSW index on Anchor.descriptor: crops, embeddings, rotations.

    The query's own anchors only, not its mirror's as well: a mirrored copy is found by the pHash of
    the mirrored orientation or by the weight-free descriptor (unchanged by flips) and then verified
    against the mirror. On the public bench the mirror's 48 searches found no copy the others did
    not (the same pairs found either way round, every family), at half the database CPU of the
    index stage (21.8 -> 13.1 ms per image)."""

    name = "anchors"

    def candidates(self, query: Query, *, limit: int) -> list:
        from apps.duplicates.models import Anchor

        descriptors = anchor_bits(query.features)
        if not descriptors:
            return []
        with connection.cursor() as cursor:
            # The index setting in the same message as the query (one round trip; PostgreSQL runs
            # them as one implicit transaction outside a transaction block, so the setting holds
            # for the query; a lone SET LOCAL there would be a no-op with a warning). The query is
            # prepared once per session, with the constants in its text: a plan made for a LIMIT
            # parameter would not be the index's.
            execute_prepared(
                cursor,
                ANCHORS_SQL.format(table=Anchor._meta.db_table),
                [descriptors, query.image_id, limit],
                ["text[]", "uuid", "int"],
                before=f"SET LOCAL hnsw.ef_search = {ANCHOR_EF_SEARCH}",
            )
            cursor.nextset()  # past the SET's
            return [row[0] for row in cursor.fetchall()]


ANCHORS_SQL = f"""
SELECT n.image_id, count(*) AS votes
FROM unnest(%s::text[]) AS q(d)
CROSS JOIN LATERAL (
    SELECT a.image_id, a.descriptor <~> q.d::bit(256) AS dist
    FROM {{table}} a ORDER BY a.descriptor <~> q.d::bit(256) LIMIT {ANCHOR_NEIGHBOURS}
) n
WHERE n.dist <= {ANCHOR_MAX_DISTANCE} AND n.image_id IS DISTINCT FROM %s
GROUP BY n.image_id HAVING count(*) >= {ANCHOR_MIN_VOTES}
ORDER BY votes DESC LIMIT %s
"""


class DescriptorSource:
    """The nearest images by the search app's weight-free descriptor (its HNSW index): whole-picture
    colour, texture and layout, which survive edits that move local features (strong crops with
    text, greyscale)."""

    name = "descriptor"

    def candidates(self, query: Query, *, limit: int) -> list:
        if query.descriptor is None:
            return []
        from apps.search import descriptor
        from apps.search.embedders.registry import DESCRIPTOR
        from apps.search.selectors import vector_neighbours

        rows = vector_neighbours(
            model=DESCRIPTOR,
            version=descriptor.VERSION,
            vector=query.descriptor,
            limit=min(limit, DESCRIPTOR_NEIGHBOURS),
            exclude_image_id=query.image_id,
            ef_search=40,
        )
        return [uuid.UUID(image_id) for image_id, similarity in rows if similarity >= DESCRIPTOR_CANDIDATE]


SOURCES: list[CandidateSource] = [ExactSource(), HashBandSource(), AnchorSource(), DescriptorSource()]


@dataclass(frozen=True)
class Decision:
    kind: str
    signal: str
    score: float


def _accepted(v: M.Verification) -> bool:
    return v.inliers >= MIN_INLIERS and v.correlation >= CORRELATION_ACCEPT


def decide_cheap(*, a: F.Features, b: F.Features, a_sha: str, b_sha: str) -> Decision | None:
    """The decision from the byte hash and the pHashes alone (no local features): a copy that these
    settle needs no verification."""
    if a_sha and a_sha == b_sha:
        return Decision(kind=Kind.EXACT, signal="sha256", score=1.0)
    d = M.phash_distance(a.phashes, b.phashes)
    if d <= PHASH_ACCEPT:
        return Decision(kind=Kind.NEAR, signal="phash", score=round(1 - d / 64, 4))
    return None


def decide(*, a: F.Features, b: F.Features, a_sha: str, b_sha: str) -> Decision | None:
    cheap = decide_cheap(a=a, b=b, a_sha=a_sha, b_sha=b_sha)
    if cheap is not None:
        return cheap
    return decide_verified(a=a, b=b)


def decide_verified(*, a: F.Features, b: F.Features) -> Decision | None:
    """ORB + RANSAC and the aligned thumbnails (a's mirror image tried when the straight match fails)."""
    v = M.verify(a, b, enough=_accepted, min_inliers=MIN_INLIERS)
    if _accepted(v):
        return Decision(kind=Kind.NEAR, signal="orb", score=round(v.correlation, 4))
    return None
