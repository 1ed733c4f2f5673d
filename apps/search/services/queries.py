"""Queries kept for a while: the search page's uploaded query image, so that changing the threshold,
filters, model or sort searches with the same image again without a new upload, and the page can show
it. Kept in Redis for DEEPLENS_SEARCH_QUERY_SECONDS under a random token, per tenant and per user
(another user, or another tenant, never finds it); never an image of the collection."""

import base64
import io
import secrets

import redis
from django.conf import settings
from PIL import Image as PILImage

from apps.core.connection import connection
from apps.core.redis import get_redis, redis_key
from apps.images import imaging
from apps.search.errors import QueryExpired

PREVIEW_SIDE = 256


def _key(user_id, token: str, part: str) -> str:
    return redis_key("search", connection.schema_name, "query", user_id, token, part)


def _preview(data: bytes) -> bytes:
    """A small JPEG of the query (never the uploaded bytes themselves: those are not served)."""
    decoded = imaging.decode(io.BytesIO(data), longest_needed=PREVIEW_SIDE).image
    decoded.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), PILImage.Resampling.BILINEAR)
    out = io.BytesIO()
    decoded.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue()


def search_query_keep(*, data: bytes, user_id) -> str | None:
    """Keep the query image; its token, or None when it is no image (the search says why) or
    Redis is away (the search still runs, once)."""
    try:
        preview = _preview(data)
    except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels, OSError):
        return None
    token = secrets.token_urlsafe(16)
    seconds = settings.DEEPLENS_SEARCH_QUERY_SECONDS
    try:
        pipe = get_redis().pipeline()
        pipe.set(_key(user_id, token, "image"), base64.b64encode(data).decode(), ex=seconds)
        pipe.set(_key(user_id, token, "preview"), base64.b64encode(preview).decode(), ex=seconds)
        pipe.execute()
    except redis.RedisError:
        return None
    return token


def _read(user_id, token: str, part: str) -> bytes:
    if not token or len(token) > 64:
        raise QueryExpired("The query image is no longer kept; drop it again.")
    try:
        raw = get_redis().get(_key(user_id, token, part))
        if raw is not None:  # used: kept as long again
            seconds = settings.DEEPLENS_SEARCH_QUERY_SECONDS
            get_redis().expire(_key(user_id, token, "image"), seconds)
            get_redis().expire(_key(user_id, token, "preview"), seconds)
    except redis.RedisError:
        raw = None
    if raw is None:
        raise QueryExpired("The query image is no longer kept; drop it again.")
    return base64.b64decode(raw)


def search_query_image(*, token: str, user_id) -> bytes:
    return _read(user_id, token, "image")


def search_query_preview(*, token: str, user_id) -> bytes:
    return _read(user_id, token, "preview")
