"""Storage credentials are encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256).

The key is DEEPLENS_STORAGE_KEY (generate one with
`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
Without it, development and tests derive a key from SECRET_KEY; production settings refuse to start
without DEEPLENS_STORAGE_KEY. Rotating the key makes stored credentials unreadable: re-enter them.
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from apps.core.errors import ServiceUnavailable


class CredentialsUnreadable(ServiceUnavailable):
    code = "storage_credentials_unreadable"


def _fernet() -> Fernet:
    key = settings.DEEPLENS_STORAGE_KEY
    if not key:
        digest = hashlib.sha256(b"deeplens-storage-credentials:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


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
