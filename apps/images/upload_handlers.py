"""Upload handlers that compute the SHA-256 of each file while it streams in.

Django keeps small uploads in memory and spools larger ones to a temporary file, so a large upload
never sits whole in memory; these add the hash on the way and refuse files over the global cap.
"""

import hashlib
import logging
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import (
    FileUploadHandler,
    MemoryFileUploadHandler,
    SkipFile,
    TemporaryFileUploadHandler,
)


class _Hashing(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        self._sha256 = hashlib.sha256()
        self._received = 0
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > settings.DEEPLENS_MAX_UPLOAD_BYTES:
            raise SkipFile(f"larger than {settings.DEEPLENS_MAX_UPLOAD_BYTES} bytes")
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
