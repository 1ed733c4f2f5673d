"""Storage credentials are encrypted at rest with Fernet (apps/core/crypto.py, DEEPLENS_STORAGE_KEY;
rotation with DEEPLENS_STORAGE_KEYS_PREVIOUS and `manage.py deeplens_rotate_storage_key`)."""

import json

from apps.core.crypto import InvalidToken, fernet_decrypt, fernet_encrypt, fernet_rotate
from apps.core.errors import ServiceUnavailable


class CredentialsUnreadable(ServiceUnavailable):
    code = "storage_credentials_unreadable"


def secrets_reencrypt(token: str) -> str:
    """The same secrets encrypted with the current key (CredentialsUnreadable if no key reads them)."""
    if not token:
        return ""
    try:
        return fernet_rotate(token)
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "Stored credentials cannot be decrypted with DEEPLENS_STORAGE_KEY or any of "
            "DEEPLENS_STORAGE_KEYS_PREVIOUS."
        ) from exc


def secrets_encrypt(secrets: dict) -> str:
    if not secrets:
        return ""
    return fernet_encrypt(json.dumps(secrets, sort_keys=True))


def secrets_decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(fernet_decrypt(token))
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            "The stored credentials of this storage location cannot be decrypted with the current "
            "DEEPLENS_STORAGE_KEY; enter them again."
        ) from exc
