"""Reads of the search domain: nearest neighbours in the tenant's HNSW index, hash neighbours."""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from pgvector import HalfVector

from apps.images.models import Image
from apps.search.descriptor import DIMENSIONS
from apps.search.models import Embedding, SearchModel


@dataclass
class SearchFilters:
    formats: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    uploaded_after: datetime | None = None
    uploaded_before: datetime | None = None
    taken_after: datetime | None = None
    taken_before: datetime | None = None
    storage_locations: list[str] = field(default_factory=list)  # ids

    def sql(self) -> tuple[str, list]:
        clauses, params = [], []
        for condition, value in (
            ("i.format = ANY(%s)", self.formats or None),
            ("i.tags @> %s::varchar[]", self.tags or None),
            ("i.created_at >= %s", self.uploaded_after),
            ("i.created_at < %s", self.uploaded_before),
            ("i.taken_at >= %s", self.taken_after),
            ("i.taken_at < %s", self.taken_before),
            ("i.storage_location_id = ANY(%s::uuid[])", self.storage_locations or None),
        ):
            if value is not None:
                clauses.append(condition)
                params.append(value)
        return "".join(f" AND {clause}" for clause in clauses), params

    def active(self) -> bool:
        return bool(self.sql()[0])


NEIGHBOURS_SQL = """
SELECT e.image_id, 1 - (e.vector::halfvec({dim}) <=> %s::halfvec({dim})) AS similarity
FROM search_embedding e JOIN images_image i ON i.id = e.image_id
WHERE e.model = %s AND e.dimensions = {dim} AND e.version = %s
  AND i.deleted_at IS NULL AND i.status = 'ready' {exclude}{filters}
ORDER BY e.vector::halfvec({dim}) <=> %s::halfvec({dim})
LIMIT %s
"""


def vector_neighbours(
    *,
    model: str,
    version: str,
    vector: np.ndarray,
    limit: int,
    filters: SearchFilters | None = None,
    exclude_image_id=None,
    ef_search: int | None = None,
) -> list[tuple[str, float]]:
    """(image_id, cosine similarity), most similar first, through the model's HNSW index.
    With filters, pgvector's iterative scan keeps walking the graph until enough rows pass them."""
    dim = len(vector)
    filter_sql, filter_params = (filters or SearchFilters()).sql()
    exclude = " AND e.image_id <> %s" if exclude_image_id else ""
    query = HalfVector(np.asarray(vector, dtype=np.float32)).to_text()  # cast to halfvec in SQL
    params = [query, model, version, *([str(exclude_image_id)] if exclude_image_id else []), *filter_params]
    params += [query, int(limit)]
    ef = int(ef_search or settings.DEEPLENS_HNSW_EF_SEARCH)
    with transaction.atomic(), connection.cursor() as cursor:
        # One round trip for both settings (transaction-local, like SET LOCAL).
        cursor.execute(
            "SELECT set_config('hnsw.ef_search', %s, true), "
            "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
            [str(max(ef, min(int(limit), 1000)))],
        )
        cursor.execute(NEIGHBOURS_SQL.format(dim=dim, exclude=exclude, filters=filter_sql), params)
        rows = cursor.fetchall()
    # relaxed_order may return rows slightly out of order: sort the page we got.
    return sorted(((str(image_id), float(sim)) for image_id, sim in rows), key=lambda row: -row[1])


def embedding_of(*, image_id, model: str) -> Embedding | None:
    return Embedding.objects.filter(image_id=image_id, model=model).first()


def vector_of(embedding: Embedding) -> np.ndarray:
    """The stored vector as float32 (a HalfVector read from the database, a list when just saved)."""
    stored = embedding.vector
    return np.asarray(stored.to_list() if hasattr(stored, "to_list") else stored, dtype=np.float32)


def search_model_get(*, key: str) -> SearchModel | None:
    return SearchModel.objects.filter(key=key).first()


def search_model_list() -> list[SearchModel]:
    return list(SearchModel.objects.select_related("job"))


HASH_NEIGHBOURS_SQL = """
SELECT id, bit_count(phash::bit(64) # (%s)::bigint::bit(64)) AS distance
FROM images_image
WHERE phash IS NOT NULL AND deleted_at IS NULL AND status = 'ready' AND id <> %s
ORDER BY phash::bit(64) <~> (%s)::bigint::bit(64)
LIMIT %s
"""


def hash_neighbours(
    *, phash: int, limit: int, max_distance: int = 64, exclude_image_id=None
) -> list[tuple[str, int]]:
    """Images whose pHash is nearest in Hamming distance (HNSW over bit(64), per tenant)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(int(limit), 1000))}")
        cursor.execute(
            HASH_NEIGHBOURS_SQL,
            [phash, str(exclude_image_id or "00000000-0000-0000-0000-000000000000"), phash, int(limit)],
        )
        rows = cursor.fetchall()
    return [(str(image_id), int(distance)) for image_id, distance in rows if distance <= max_distance]


def images_for_results(ids: list[str]) -> dict[str, Image]:
    return {
        str(image.pk): image
        for image in Image.objects.select_related("storage_location").filter(
            pk__in=ids, deleted_at__isnull=True
        )
    }


def ids_passing(*, ids: list[str], filters: SearchFilters | None) -> set[str]:
    """Of `ids`, the live, ready images the filters let through."""
    if not ids:
        return set()
    filter_sql, params = (filters or SearchFilters()).sql()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.id FROM images_image i WHERE i.id = ANY(%s::uuid[]) AND i.deleted_at IS NULL "
            f"AND i.status = 'ready'{filter_sql}",
            [ids, *params],
        )
        return {str(row[0]) for row in cursor.fetchall()}


def vectors_for(*, ids: list[str], model: str, version: str) -> dict[str, np.ndarray]:
    """The stored vectors of these images for this model version, as float32."""
    return {
        str(embedding.image_id): vector_of(embedding)
        for embedding in Embedding.objects.filter(image_id__in=ids, model=model, version=version)
    }


def vector_dimensions(*, model: str, version: str) -> int | None:
    """The dimensions of the model version's stored vectors (None before any is stored)."""
    if model == "descriptor":
        return DIMENSIONS
    row = SearchModel.objects.filter(key=model).first()
    if row is not None and row.dimensions:
        return int(row.dimensions)
    return Embedding.objects.filter(model=model, version=version).values_list("dimensions", flat=True).first()
