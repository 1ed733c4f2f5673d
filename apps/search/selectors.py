"""Reads of the search domain: nearest neighbours in the tenant's HNSW index, hash neighbours."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from pgvector import HalfVector

from apps.core.prepared import Prepared, execute_prepared, execute_prepared_together
from apps.core.rows import columns, instance
from apps.duplicates.models import Signature
from apps.duplicates.selectors import matches_from, matches_stored_statement
from apps.images.models import Image
from apps.search.descriptor import DIMENSIONS
from apps.search.embedders.registry import KEYS as MODELS
from apps.search.models import Embedding, SearchModel
from apps.storage.models import StorageLocation


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
SELECT e.image_id::text, 1 - (e.vector::halfvec({dim}) <=> %s::halfvec({dim})) AS similarity{columns}
FROM search_embedding e JOIN images_image i ON i.id = e.image_id{joins}
WHERE e.model = '{model}' AND e.dimensions = {dim} AND e.version = %s
  AND i.deleted_at IS NULL AND i.status = 'ready' {exclude}{filters}
ORDER BY e.vector::halfvec({dim}) <=> %s::halfvec({dim})
LIMIT {limit}
"""
# The index settings, sent in the same message as the query (see _neighbours): one statement.
NEIGHBOURS_SETTINGS_SQL = (
    "SELECT set_config('hnsw.ef_search', %s, true),"
    " set_config('hnsw.iterative_scan', 'relaxed_order', true){more};"
)
# The unfiltered query always walks the model's HNSW index. The planner's costs prefer reading the
# whole table for a collection of a few thousand: a window of 100 of 793 bench photos then took
# 1.3 ms (every vector's distance, three hash joins and a sort), the index and 100 row lookups
# 0.7 ms. A k-nearest query that reads every row costs more with each image; the index does not.
# Sorting is switched off too: for a few dozen rows the planner would otherwise read them through
# another index and sort them. (Where the model has no index yet, the disabled plan is still
# chosen: nothing else can answer.)
INDEX_FIRST = "set_config('enable_seqscan', 'off', true), set_config('enable_sort', 'off', true)"


def _query_text(vector: np.ndarray | str) -> tuple[str, int]:
    """The query vector in pgvector's text form (cast to halfvec in SQL) and its dimensions. A
    stored vector read as text comes as it was read (formatting 231 floats cost 80 µs)."""
    if isinstance(vector, str):
        return vector, vector.count(",") + 1
    array = np.asarray(vector, dtype=np.float32)
    return HalfVector(array).to_text(), len(array)


def _neighbours(
    *,
    model: str,
    version: str,
    vector: np.ndarray | str,
    limit: int,
    filters: SearchFilters | None,
    exclude_image_id,
    ef_search: int | None,
    phashes: bool,
) -> list[tuple]:
    query, dim = _query_text(vector)
    filter_sql, filter_params = (filters or SearchFilters()).sql()
    exclude = " AND e.image_id <> %s" if exclude_image_id else ""
    if model not in MODELS:
        raise ValueError(f"no such model: {model!r}")
    params = [query, version, *([str(exclude_image_id)] if exclude_image_id else []), *filter_params]
    params.append(query)
    ef = int(ef_search or settings.DEEPLENS_HNSW_EF_SEARCH)
    sql = NEIGHBOURS_SQL.format(
        dim=dim,
        # in the text, as in the model's partial index: a plan prepared for a model parameter could
        # not prove the index's predicate, and would sort the whole table instead
        model=model,
        exclude=exclude,
        filters=filter_sql,
        columns=", s.phashes" if phashes else "",
        joins=f" LEFT JOIN {Signature._meta.db_table} s ON s.image_id = e.image_id" if phashes else "",
        limit=int(limit),  # in the text: a prepared plan for a LIMIT parameter would not be the index's
    )
    # One round trip for the transaction-local index settings and the query: psycopg's client-side
    # binding (Django's default) sends both statements as one simple-query message, which
    # PostgreSQL runs as one implicit transaction outside a transaction block, so the settings hold
    # for the query and end with it (inside a block they end with the block, as SET LOCAL does).
    settings_params = [str(max(ef, min(int(limit), 1000)))]
    with connection.cursor() as cursor:
        if filter_sql:  # the statement's text varies with the filters: planned each time
            cursor.execute(NEIGHBOURS_SETTINGS_SQL.format(more="") + sql, [*settings_params, *params])
        else:  # the hot path (every search without filters): planned once per session
            types = ["halfvec", "text", *(["uuid"] if exclude_image_id else []), "halfvec"]
            execute_prepared(
                cursor,
                sql,
                params,
                types,
                before=NEIGHBOURS_SETTINGS_SQL.format(more=f", {INDEX_FIRST}"),
                before_params=settings_params,
            )
        if not cursor.nextset():  # the first result is set_config's
            raise RuntimeError("the neighbours query returned no result")
        return cursor.fetchall()


def vector_neighbours(
    *,
    model: str,
    version: str,
    vector: np.ndarray | str,
    limit: int,
    filters: SearchFilters | None = None,
    exclude_image_id=None,
    ef_search: int | None = None,
) -> list[tuple[str, float]]:
    """(image_id, cosine similarity), most similar first, through the model's HNSW index.
    With filters, pgvector's iterative scan keeps walking the graph until enough rows pass them."""
    rows = _neighbours(
        model=model,
        version=version,
        vector=vector,
        limit=limit,
        filters=filters,
        exclude_image_id=exclude_image_id,
        ef_search=ef_search,
        phashes=False,
    )
    # relaxed_order may return rows slightly out of order: sort the page we got.
    return sorted(((image_id, float(sim)) for image_id, sim in rows), key=lambda row: -row[1])


def neighbours_with_phashes(
    *,
    model: str,
    version: str,
    vector: np.ndarray | str,
    limit: int,
    filters: SearchFilters | None = None,
    exclude_image_id=None,
) -> tuple[list[tuple[str, float]], dict[str, list[int]]]:
    """vector_neighbours and, in the same query, the neighbours' stored orientation pHashes
    (signed, as stored; an image detection has not reached yet has none)."""
    rows = _neighbours(
        model=model,
        version=version,
        vector=vector,
        limit=limit,
        filters=filters,
        exclude_image_id=exclude_image_id,
        ef_search=None,
        phashes=True,
    )
    ordered = sorted(((image_id, float(sim)) for image_id, sim, _p in rows), key=lambda row: -row[1])
    return ordered, {image_id: phashes for image_id, _s, phashes in rows if phashes is not None}


@dataclass(frozen=True)
class QueryImage:
    """What a search by a stored image needs of it: its status, its stored vector of the model
    version (None before it is embedded) and its eight orientation pHashes (None before detection
    reached it), with the images detection decided duplicate it."""

    pk: uuid.UUID
    status: str
    vector_text: str | None  # the vector in pgvector's text form, as stored
    phashes: list[int] | None
    matches: dict  # what detection decided of it (duplicates.selectors.matches_from)

    def vector(self) -> np.ndarray | None:
        return None if self.vector_text is None else _as_floats(self.vector_text)

    def image(self) -> Image:
        """The whole row, for the rare query that must read the original (not indexed yet)."""
        return Image.objects.get(pk=self.pk)


def query_image_get(*, image_id, model: str, version: str) -> QueryImage | None:
    """A live image as a search by it needs it, with what detection decided of it, in one round trip
    (a search by id is the hot path: through the ORM, with its two subqueries, the image's read
    cost 1.5 ms of CPU, a cursor 0.1 ms). The vector is read as text: the neighbours query takes
    it back as it came."""
    image = Prepared(
        f"""
        SELECT i.id, i.status,
            (SELECT e.vector::text FROM {Embedding._meta.db_table} e
             WHERE e.image_id = i.id AND e.model = %s AND e.version = %s LIMIT 1),
            (SELECT s.phashes FROM {Signature._meta.db_table} s WHERE s.image_id = i.id LIMIT 1)
        FROM {Image._meta.db_table} i
        WHERE i.id = %s AND i.deleted_at IS NULL
        """,
        [model, version, str(image_id)],
        ["text", "text", "uuid"],
    )
    with connection.cursor() as cursor:
        execute_prepared_together(cursor, [image, matches_stored_statement(image_id=image_id)])
        row = cursor.fetchone()
        if not cursor.nextset():
            raise RuntimeError("the stored matches were not read")
        matches = matches_from(cursor.fetchall())
    if row is None:
        return None
    pk, status, vector, phashes = row
    return QueryImage(pk=pk, status=status, vector_text=vector, phashes=phashes, matches=matches)


def embedding_of(*, image_id, model: str) -> Embedding | None:
    return Embedding.objects.filter(image_id=image_id, model=model).first()


def vector_of(embedding: Embedding) -> np.ndarray:
    """The stored vector as float32 (a HalfVector read from the database, a list when just saved)."""
    stored = embedding.vector
    return np.asarray(stored.to_list() if hasattr(stored, "to_list") else stored, dtype=np.float32)


def search_model_get(*, key: str) -> SearchModel | None:
    """The model's row in this workspace (a search by CLIP or ResNet reads it first: prepared, as
    compiling the ORM's query cost more than running it)."""
    fields = list(SearchModel._meta.concrete_fields)
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            f"SELECT {columns('m', fields)} FROM {SearchModel._meta.db_table} m WHERE m.key = %s LIMIT 1",
            [key],
            ["text"],
        )
        row = cursor.fetchone()
    return None if row is None else instance(SearchModel, fields, row)


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


# What a page of results reads of each image without its metadata: the file, its location's name,
# and what sorting by date and collapsing duplicates need.
RESULT_FIELDS = ("id", "original_filename", "storage_key", "storage_location", "sha256", "created_at")


def images_for_results(
    ids: list[str], *, metadata: bool = True, first: int | None = None
) -> dict[str, Image]:
    """The live images of `ids` (with `first`, only the first that many live ones in the order of
    `ids`: a page read with a few spare rows makes no instance of the spares it does not need),
    each with `storage_location_name`; without `metadata`, only RESULT_FIELDS (the others deferred).
    Raw SQL into model instances: the ORM's query of the image's 36 columns and its location took
    1.4 ms of CPU per search page to compile, a RawQuerySet of them 0.7 ms; RESULT_FIELDS read this
    way, less again."""
    fields = [f for f in Image._meta.concrete_fields if metadata or f.name in RESULT_FIELDS]
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            f"SELECT {columns('i', fields)}, l.name FROM {Image._meta.db_table} i"
            f" JOIN {StorageLocation._meta.db_table} l ON l.id = i.storage_location_id"
            " WHERE i.id = ANY(%s) AND i.deleted_at IS NULL",
            [[str(image_id) for image_id in ids]],
            ["uuid[]"],
        )
        rows = cursor.fetchall()
    if first is not None:
        order = {str(image_id): n for n, image_id in enumerate(ids)}
        rows = sorted(rows, key=lambda row: order[str(row[0])])[:first]
    images = {}
    for row in rows:
        image = instance(Image, fields, row[:-1])
        image.storage_location_name = row[-1]  # type: ignore[attr-defined]  # the joined name
        images[str(image.pk)] = image
    return images


@dataclass(frozen=True)
class StoredVector:
    """A stored vector as the cursor read it, parsed when asked for."""

    stored: object

    def floats(self) -> np.ndarray:
        return _as_floats(self.stored)


def ids_passing(
    *, ids: list[str], filters: SearchFilters | None, model: str = "", version: str = ""
) -> dict[str, StoredVector | None]:
    """Of `ids`, the live, ready images the filters let through, with (given a model) their stored
    vector of that model version (None where there is none), in one query. A vector is parsed only
    when asked for (`floats()`): a search needs those of the few matches outside its window."""
    if not ids:
        return {}
    filter_sql, params = (filters or SearchFilters()).sql()
    vector_sql, join_sql, join_params = "NULL", "", []
    if model:
        vector_sql = "e.vector"
        join_sql = " LEFT JOIN search_embedding e ON e.image_id = i.id AND e.model = %s AND e.version = %s"
        join_params = [model, version]
    sql = (
        f"SELECT i.id, {vector_sql} FROM images_image i{join_sql} WHERE i.id = ANY(%s::uuid[]) "
        f"AND i.deleted_at IS NULL AND i.status = 'ready'{filter_sql}"
    )
    with connection.cursor() as cursor:
        if filter_sql:  # the text varies with the filters: planned each time
            cursor.execute(sql, [*join_params, ids, *params])
        else:  # every search by a picture with matches: planned once per session
            types = [*(["text", "text"] if model else []), "uuid[]"]
            execute_prepared(cursor, sql, [*join_params, ids], types)
        return {
            str(image_id): None if stored is None else StoredVector(stored)
            for image_id, stored in cursor.fetchall()
        }


def _as_floats(stored) -> np.ndarray:
    """A halfvec as read by a raw cursor (pgvector's text form, or a HalfVector where registered)."""
    if hasattr(stored, "to_list"):
        return np.asarray(stored.to_list(), dtype=np.float32)
    if isinstance(stored, str):  # "[0.1,0.2,...]"
        return np.fromstring(stored[1:-1], sep=",", dtype=np.float32)
    return np.asarray(stored, dtype=np.float32)


def vector_dimensions(*, model: str, version: str) -> int | None:
    """The dimensions of the model version's stored vectors (None before any is stored)."""
    if model == "descriptor":
        return DIMENSIONS
    row = SearchModel.objects.filter(key=model).first()
    if row is not None and row.dimensions:
        return int(row.dimensions)
    return Embedding.objects.filter(model=model, version=version).values_list("dimensions", flat=True).first()
