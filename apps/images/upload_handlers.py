"""Upload handlers that compute the SHA-256 of each file while it streams in.

Django keeps small uploads in memory and spools larger ones to a temporary file, so a large upload
never sits whole in memory; these add the hash on the way and refuse files over the global cap.
"""

import hashlib

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
    pass
