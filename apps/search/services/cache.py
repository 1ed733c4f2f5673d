"""The similarity cache: search results per tenant in Redis, keyed by the request and by the
tenant's index generation. Any change to the tenant's embeddings bumps the generation, so older
entries are never read again (and expire on their own)."""

import hashlib
import json
import logging

import redis
from django.conf import settings

from apps.core.connection import connection
from apps.core.redis import get_redis, redis_key

logger = logging.getLogger(__name__)


def _generation_key(schema: str) -> str:
    return redis_key("search", schema, "generation")


def index_changed(*, schema: str | None = None) -> None:
    try:
        get_redis().incr(_generation_key(schema or connection.schema_name))
    except redis.RedisError as exc:  # the cache is an optimisation; a stale generation expires
        logger.warning("could not bump the search cache generation: %s", exc)


def _entry_key(request: dict) -> str:
    schema = connection.schema_name
    generation = get_redis().get(_generation_key(schema)) or "0"
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return redis_key("search", schema, generation, digest)


def cache_get(request: dict) -> dict | None:
    if settings.DEEPLENS_SEARCH_CACHE_SECONDS <= 0:
        return None
    try:
        raw = get_redis().get(_entry_key(request))
    except redis.RedisError:
        return None
    return json.loads(raw) if raw else None


def cache_put(request: dict, value: dict) -> None:
    if settings.DEEPLENS_SEARCH_CACHE_SECONDS <= 0:
        return
    try:
        get_redis().set(_entry_key(request), json.dumps(value), ex=settings.DEEPLENS_SEARCH_CACHE_SECONDS)
    except redis.RedisError as exc:
        logger.warning("could not cache search results: %s", exc)
