"""Secrets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256): storage credentials, webhook
secrets, SSO client secrets, TOTP seeds.

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

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "fernet_decrypt", "fernet_encrypt", "fernet_rotate"]


def _fernet() -> MultiFernet:
    """The current key first (it encrypts); the previous ones still decrypt."""
    key = settings.DEEPLENS_STORAGE_KEY
    if not key:
        digest = hashlib.sha256(b"deeplens-storage-credentials:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    keys = [key, *settings.DEEPLENS_STORAGE_KEYS_PREVIOUS]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def fernet_decrypt(token: str, *, max_age: int | None = None) -> str:
    """Raises InvalidToken where no key reads it, the token was altered or is older than max_age
    seconds."""
    return _fernet().decrypt(token.encode(), ttl=max_age).decode()


def fernet_rotate(token: str) -> str:
    """The same secret encrypted with the current key (InvalidToken where no key reads it)."""
    return _fernet().rotate(token.encode()).decode()
