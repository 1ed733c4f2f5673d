"""Upload handlers that compute the SHA-256 of each file while it streams in.

Django keeps small uploads in memory and spools larger ones to a temporary file, so a large upload
never sits whole in memory; these add the hash on the way and enforce the size limit of the view the
request goes to (its `upload_limits(request)`: bytes per file, files per request; the installation's
caps elsewhere):

- a body whose Content-Length cannot fit that many files of that size is refused with 413 before
  a byte of it is read or spooled;
- a file that grows past the limit while streaming (no Content-Length, or one file of a batch) is
  dropped at the limit and named in `request.uploads_too_large`, so the view answers 413 for it
  instead of "no file".
"""

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)

from apps.images.errors import FileTooLarge

# Room in a multipart body beside the files: boundaries, a part's headers (up to 16 KiB, see
# apps/images/apps.py) and the form's small fields.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
PART_OVERHEAD_BYTES = 16 * 1024


def request_upload_limits(request) -> tuple[int, int]:
    """(bytes per file, files per request) that the view this request is routed to accepts."""
    match = getattr(request, "resolver_match", None)
    view_class = getattr(getattr(match, "func", None), "view_class", None)
    limits = getattr(view_class, "upload_limits", None)
    if limits is None:
        return settings.DEEPLENS_MAX_UPLOAD_BYTES, settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return limits(request)


def file_too_large(limit: int, **detail) -> FileTooLarge:
    return FileTooLarge(
        f"The file is larger than this workspace's limit of {limit:,} bytes.",
        extra={"max_upload_bytes": limit, **detail},
    )


class _Hashing(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self._limit, files = request_upload_limits(self.request)
        if content_length and content_length > files * (self._limit + PART_OVERHEAD_BYTES) + (
            MULTIPART_OVERHEAD_BYTES
        ):
            raise file_too_large(self._limit, content_length=content_length)
        return super().handle_raw_input(input_data, META, content_length, boundary, encoding)

    def new_file(self, *args, **kwargs):
        self._sha256 = hashlib.sha256()
        self._received = 0
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        limit = getattr(self, "_limit", settings.DEEPLENS_MAX_UPLOAD_BYTES)
        if self._received > limit:
            # The first handler of the chain sees every chunk: it names the file once.
            request: Any = self.request
            too_large = getattr(request, "uploads_too_large", [])
            if self.file_name not in too_large:
                too_large.append(self.file_name)
            request.uploads_too_large = too_large  # the parser closes (removes) the spool
            raise SkipFile(f"larger than {limit} bytes")
        self._sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            # An attribute of our own on Django's UploadedFile; image_ingest reads it with getattr.
            uploaded.sha256 = self._sha256.hexdigest()  # type: ignore[attr-defined]
        return uploaded


class HashingMemoryUploadHandler(_Hashing, MemoryFileUploadHandler):
    pass


class HashingTemporaryFileUploadHandler(_Hashing, TemporaryFileUploadHandler):
    def new_file(self, *args, **kwargs):
        spool_dir_prepare()
        return super().new_file(*args, **kwargs)


logger = logging.getLogger(__name__)
_spool_lock = threading.Lock()
_spool_swept_at: float | None = None


def spool_dir_prepare(*, now: float | None = None) -> Path:
    """FILE_UPLOAD_TEMP_DIR, created if missing and, on first use in a process and hourly after,
    swept of files older than DEEPLENS_UPLOAD_SPOOL_MAX_AGE_SECONDS: spools a killed worker left
    behind. Younger files may be live uploads of another process and are kept."""
    global _spool_swept_at
    spool = Path(settings.FILE_UPLOAD_TEMP_DIR)
    now = time.time() if now is None else now
    max_age = settings.DEEPLENS_UPLOAD_SPOOL_MAX_AGE_SECONDS
    with _spool_lock:
        if _spool_swept_at is not None and now - _spool_swept_at < min(max_age, 3600) and spool.is_dir():
            return spool
        spool.mkdir(parents=True, exist_ok=True)
        _spool_swept_at = now
        removed = 0
        for path in spool.iterdir():
            try:
                if path.is_file() and now - path.stat().st_mtime > max_age:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # finished meanwhile
        if removed:
            logger.warning("removed %d stale upload spool files from %s", removed, spool)
    return spool
