"""The `Idempotency-Key` header of the upload endpoints (upload, batch, URL import)."""

import functools
import hashlib
import json
import re

from django.core.files.uploadedfile import UploadedFile
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from apps.accounts.models import ApiKey
from apps.core.errors import ApplicationError
from apps.images.errors import IdempotencyKeyInvalid
from apps.images.services.idempotency import idempotency_abandon, idempotency_claim, idempotency_finish

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    name=HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique string per request (e.g. a UUID), 1-255 visible ASCII characters. A retry with the "
        "same key by the same user or API key within 24 h gets the first answer again (same status "
        "and body, with `Idempotent-Replayed: true`) and stores nothing again. The same key with a "
        "different request: 422 `idempotency_key_reused`; while the first request is still running: "
        "409 `idempotency_in_progress`. A 5xx answer is not kept: the retry runs again."
    ),
)


def _principal(request) -> str:
    key = getattr(request, "api_key", None)
    if isinstance(key, ApiKey):
        return f"api_key:{key.pk}"
    return f"user:{request.user.pk}"


def _file_digest(upload: UploadedFile) -> str:
    sha256 = getattr(upload, "sha256", None)
    if sha256:
        return sha256
    digest = hashlib.sha256()
    upload.seek(0)
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def request_fingerprint(request) -> str:
    """The endpoint and the request's content: form fields, and each file's name, size and SHA-256
    (a multipart body's boundary differs on every retry, so the raw bytes cannot be compared)."""
    data = request.data
    if hasattr(data, "lists"):
        parts = []
        for name, values in sorted(data.lists()):
            for value in values:
                if isinstance(value, UploadedFile):
                    parts.append([name, "file", value.name, value.size, _file_digest(value)])
                else:
                    parts.append([name, "field", str(value)])
        content = json.dumps(parts)
    else:
        content = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{content}".encode()).hexdigest()


def idempotent(post):
    """Wrap an APIView's post: with an Idempotency-Key, claim it, replay a finished answer, or run
    and keep the answer for retries."""

    @functools.wraps(post)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return post(self, request, *args, **kwargs)
        if not _VALID_KEY.fullmatch(key):
            raise IdempotencyKeyInvalid(
                f"{HEADER} must be 1-255 visible ASCII characters.", extra={"idempotency_key": key[:300]}
            )
        claim = idempotency_claim(
            key=key, principal=_principal(request), fingerprint=request_fingerprint(request)
        )
        if claim.replay:
            return Response(
                claim.row.response_body, status=claim.row.response_status, headers={REPLAYED_HEADER: "true"}
            )
        finished = False
        try:
            try:
                response = post(self, request, *args, **kwargs)
            except (ApplicationError, APIException) as exc:
                response = self.handle_exception(exc)
            idempotency_finish(claim=claim, status=response.status_code, body=response.data)
            finished = True
            return response
        finally:
            if not finished:
                idempotency_abandon(claim=claim)

    return wrapper
