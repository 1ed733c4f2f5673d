"""pgvector indexes in the tenant's schema: HNSW (cosine) per model and dimension, and Hamming
distance on the perceptual hashes. Each tenant has its own, so no tenant's vectors affect another's
recall or speed. m and ef_construction come from settings when an index is built; ef_search is set
per query (DEEPLENS_HNSW_EF_SEARCH)."""

import logging

from django.conf import settings

from apps.core.connection import connection

logger = logging.getLogger(__name__)
TABLE = "search_embedding"


def vector_index_name(*, model: str, dimensions: int) -> str:
    return f"search_embedding_hnsw_{model}_{dimensions}"


def _create_sql(*, name: str, model: str, dimensions: int) -> str:
    if model not in ("descriptor", "clip", "resnet50") or not 0 < int(dimensions) <= 4000:
        raise ValueError(f"no index for {model}/{dimensions}")
    return (
        f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} USING hnsw "
        f"((vector::halfvec({int(dimensions)})) halfvec_cosine_ops) "
        f"WITH (m = {int(settings.DEEPLENS_HNSW_M)}, "
        f"ef_construction = {int(settings.DEEPLENS_HNSW_EF_CONSTRUCTION)}) "
        f"WHERE model = '{model}' AND dimensions = {int(dimensions)}"
    )


def vector_index_ensure(*, model: str, dimensions: int, schema_editor=None) -> str:
    """CREATE INDEX IF NOT EXISTS: a partial expression index over this model's rows of these
    dimensions. Queries must use the same expression (apps/search/selectors.py)."""
    name = vector_index_name(model=model, dimensions=dimensions)
    sql = _create_sql(name=name, model=model, dimensions=dimensions)
    if schema_editor is not None:
        schema_editor.execute(sql)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    return name


# Hamming distance on pHash: the signed 64-bit integer read as bit(64), HNSW with bit_hamming_ops.
HASH_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS images_image_phash_hamming ON images_image "
    "USING hnsw ((phash::bit(64)) bit_hamming_ops) WHERE phash IS NOT NULL"
)


def _options(reloptions) -> dict[str, int]:
    return {k: int(v) for k, v in (item.split("=", 1) for item in reloptions or []) if v.isdigit()}


def vector_indexes_list() -> list[dict]:
    """The HNSW indexes of the current tenant's schema with their build options, and whether those
    differ from the settings (m, ef_construction) now."""
    wanted = {
        "m": int(settings.DEEPLENS_HNSW_M),
        "ef_construction": int(settings.DEEPLENS_HNSW_EF_CONSTRUCTION),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reloptions, pg_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'i' AND c.relname LIKE %s ORDER BY c.relname",
            ["search_embedding_hnsw\\_%"],
        )
        rows = cursor.fetchall()
    out = []
    for name, reloptions, size in rows:
        stem, dimensions = name.removeprefix("search_embedding_hnsw_").rsplit("_", 1)
        options = {"m": 16, "ef_construction": 64} | _options(reloptions)  # pgvector's defaults
        out.append(
            {
                "name": name,
                "model": stem,
                "dimensions": int(dimensions),
                "m": options["m"],
                "ef_construction": options["ef_construction"],
                "bytes": size,
                "stale": options["m"] != wanted["m"]
                or options["ef_construction"] != wanted["ef_construction"],
            }
        )
    return out


def vector_index_rebuild(*, model: str, dimensions: int) -> str:
    """Build the index again with the options the settings give now. Outside a transaction the new
    index is built CONCURRENTLY under a temporary name and swapped in, so searches and writes go on
    meanwhile (on the old index until the swap)."""
    name = vector_index_name(model=model, dimensions=dimensions)
    if connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        return vector_index_ensure(model=model, dimensions=dimensions)
    building = f"{name}_new"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {building}")  # a build interrupted before
        create = _create_sql(name=building, model=model, dimensions=dimensions)
        cursor.execute(create.replace("CREATE INDEX IF NOT EXISTS", "CREATE INDEX CONCURRENTLY", 1))
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
            cursor.execute(f"ALTER INDEX {building} RENAME TO {name}")
            cursor.execute("COMMIT")
        except Exception:
            cursor.execute("ROLLBACK")
            raise
    logger.info("rebuilt %s in %s", name, connection.schema_name)
    return name
