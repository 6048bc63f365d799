"""Resident ID numbers at rest: encrypted (AES-256-GCM) and findable by exact value through a
keyed hash (HMAC-SHA-256), so a copy of the database alone reveals no number. Secrets the service
must read back (webhook signing secrets) are encrypted the same way.

Every key is derived from `APP_DATA_KEY` with HKDF, one per purpose.
"""

import hashlib
import hmac
import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(key)


class IdNumberCipher:
    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(_derive(data_key, b"cadre-training id-number encryption v1"))
        self._mac_key = _derive(data_key, b"cadre-training id-number lookup v1")

    def encrypt(self, number: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, number.encode(), b"id_number")

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], b"id_number").decode()

    def lookup_hash(self, number: str) -> bytes:
        return hmac.new(self._mac_key, number.encode(), hashlib.sha256).digest()


class SecretBox:
    """Secrets kept to be used again, such as webhook signing secrets. `context` is authenticated
    with the ciphertext (AES-GCM associated data): name the row it belongs to, and a ciphertext
    copied to another row does not decrypt."""

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(_derive(data_key, b"cadre-training secret encryption v1"))
        self._mac_key = _derive(data_key, b"cadre-training request fingerprint v1")
        self._natural_key = _derive(data_key, b"cadre-training natural record ids v1")

    def seal(self, secret: bytes, *, context: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, context)

    def open(self, blob: bytes, *, context: bytes) -> bytes:
        return self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context)

    def natural_id(self, natural: str) -> str:
        """A record id derived from its natural key under the data key (HMAC-SHA-256, as a
        version-8 UUID in hex): the same key gives the same id, so a re-import creates nothing,
        and nobody without the key can compute another unit's ids to test whether they exist."""
        digest = bytearray(
            hmac.new(self._natural_key, natural.encode(), hashlib.sha256).digest()[:16]
        )
        digest[6] = (digest[6] & 0x0F) | 0x80
        digest[8] = (digest[8] & 0x3F) | 0x80
        return digest.hex()

    def fingerprint(self, digest: bytes) -> str:
        """A keyed fingerprint (HMAC-SHA-256, hex) of a SHA-256 digest: comparable, and of no
        use to whoever holds only the database. A plain hash of a request that carries an ID
        number would give the number away to a search over its few million candidates."""
        return hmac.new(self._mac_key, digest, hashlib.sha256).hexdigest()


_cipher: IdNumberCipher | None = None
_secret_box: SecretBox | None = None


def configure(data_key: bytes) -> None:
    """Called by create_app (and the CLI, and migrations) with the deployment's key."""
    global _cipher, _secret_box
    _cipher = IdNumberCipher(data_key)
    _secret_box = SecretBox(data_key)


def cipher() -> IdNumberCipher:
    if _cipher is None:
        raise RuntimeError("personal_data.configure() was not called")
    return _cipher


def secret_box() -> SecretBox:
    if _secret_box is None:
        raise RuntimeError("personal_data.configure() was not called")
    return _secret_box


def _month(value: Any) -> Any:
    return value[:7] if isinstance(value, str) and len(value) == 10 else value


def without_birth_day(entity_type: str, changes: dict[str, object]) -> dict[str, object]:
    """A cadre's change as a role that sees ID numbers masked reads it: the birth date as year
    and month (出生年月), as the cadre reads show it to that role. With the day and the unit's
    region code, a masked number would leave a few hundred candidates; with the month, thousands.
    (The number itself never enters the trail: `<changed>`.)"""
    if entity_type != "cadre" or "birth_date" not in changes:
        return changes
    value = changes["birth_date"]
    shown = {k: _month(v) for k, v in value.items()} if isinstance(value, dict) else _month(value)
    return {**changes, "birth_date": shown}
