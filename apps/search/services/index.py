"""pgvector indexes in the tenant's schema: HNSW (cosine) per model and dimension, and Hamming
distance on the perceptual hashes. Each tenant has its own, so no tenant's vectors affect another's
recall or speed. m and ef_construction come from settings when an index is built; ef_search is set
per query (DEEPLENS_HNSW_EF_SEARCH)."""

import logging

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)
TABLE = "search_embedding"


def vector_index_name(*, model: str, dimensions: int) -> str:
    return f"search_embedding_hnsw_{model}_{dimensions}"


def vector_index_ensure(*, model: str, dimensions: int, schema_editor=None) -> str:
    """CREATE INDEX IF NOT EXISTS: a partial expression index over this model's rows of these
    dimensions. Queries must use the same expression (apps/search/selectors.py)."""
    if model not in ("descriptor", "clip", "resnet50") or not 0 < int(dimensions) <= 4000:
        raise ValueError(f"no index for {model}/{dimensions}")
    name = vector_index_name(model=model, dimensions=dimensions)
    sql = (
        f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} USING hnsw "
        f"((vector::halfvec({int(dimensions)})) halfvec_cosine_ops) "
        f"WITH (m = {int(settings.DEEPLENS_HNSW_M)}, "
        f"ef_construction = {int(settings.DEEPLENS_HNSW_EF_CONSTRUCTION)}) "
        f"WHERE model = '{model}' AND dimensions = {int(dimensions)}"
    )
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
