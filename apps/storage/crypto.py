"""Storage credentials are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key is DEEPLENS_STORAGE_KEY (generate one with
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
Without it, development and tests derive a key from SECRET_KEY; production settings refuse to start
without DEEPLENS_STORAGE_KEY. To rotate the key: set the new DEEPLENS_STORAGE_KEY, list the old one
in DEEPLENS_STORAGE_KEYS_PREVIOUS (still accepted for reading), run
`manage.py deeplens_rotate_storage_key` (re-encrypts every stored secret with the new key), then drop
the old key.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from apps.core.errors import ServiceUnavailable


class CredentialsUnreadable(ServiceUnavailable):
    code = "storage_credentials_unreadable"


def _fernet() -> MultiFernet:
    """The current key first (it encrypts); the previous ones still decrypt."""
    key = settings.DEEPLENS_STORAGE_KEY
    if not key:
        digest = hashlib.sha256(b"deeplens-storage-credentials:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    keys = [key, *settings.DEEPLENS_STORAGE_KEYS_PREVIOUS]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def secrets_reencrypt(token: str) -> str:
    """The same secrets encrypted with the current key (CredentialsUnreadable if no key reads them)."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "Stored credentials cannot be decrypted with DEEPLENS_STORAGE_KEY or any of "
            "DEEPLENS_STORAGE_KEYS_PREVIOUS."
        ) from exc


def secrets_encrypt(secrets: dict) -> str:
    if not secrets:
        return ""
    return _fernet().encrypt(json.dumps(secrets, sort_keys=True).encode()).decode()


def secrets_decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "The stored credentials of this storage location cannot be decrypted with the current "
            "DEEPLENS_STORAGE_KEY; enter them again."
        ) from exc
