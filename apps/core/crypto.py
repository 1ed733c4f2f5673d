"""Secrets encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256): storage credentials, SSO client
secrets, TOTP seeds.

The key is DEEPLENS_STORAGE_KEY (generate one with
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
Without it, development and tests derive a key from SECRET_KEY; production settings refuse to start
without DEEPLENS_STORAGE_KEY. Rotating the key makes stored secrets unreadable: re-enter them.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

__all__ = ["InvalidToken", "fernet_decrypt", "fernet_encrypt"]


def _fernet() -> Fernet:
    key = settings.DEEPLENS_STORAGE_KEY
    if not key:
        digest = hashlib.sha256(b"deeplens-storage-credentials:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def fernet_encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def fernet_decrypt(token: str, *, max_age: int | None = None) -> str:
    """Raises InvalidToken where the key changed, the token was altered or is older than max_age
    seconds."""
    return _fernet().decrypt(token.encode(), ttl=max_age).decode()
