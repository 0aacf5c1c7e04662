"""Field encryption and keyed hashes for personal data (PIPL).

Ciphertext names the key that made it ("v1.<key id>.<base64>"), so keys rotate: new writes use the
current key, reads accept any key still in the ring. The suite is configuration (AES-GCM today; SM4
where a 密评 requires it can be added behind the same class).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class DecryptionError(ValueError):
    pass


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


class FieldCipher:
    def __init__(self, current_key_b64: str, old_keys_b64: tuple[str, ...] = ()) -> None:
        keys = [base64.b64decode(k) for k in (current_key_b64, *old_keys_b64)]
        for key in keys:
            if len(key) not in (16, 24, 32):
                raise ValueError("personal-data keys must be 128, 192 or 256 bits (base64)")
        self._current = keys[0]
        self._ring = {_key_id(k): AESGCM(k) for k in keys}
        self._current_id = _key_id(self._current)

    def encrypt(self, plaintext: str | None) -> str | None:
        if plaintext is None:
            return None
        nonce = os.urandom(12)
        ct = self._ring[self._current_id].encrypt(nonce, plaintext.encode("utf-8"), None)
        return f"v1.{self._current_id}.{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            _version, kid, blob = token.split(".", 2)
            aead = self._ring[kid]
            raw = base64.b64decode(blob)
            return aead.decrypt(raw[:12], raw[12:], None).decode("utf-8")
        except (ValueError, KeyError) as exc:
            raise DecryptionError("cannot decrypt field: unknown key or damaged value") from exc
        except Exception as exc:  # InvalidTag
            raise DecryptionError("cannot decrypt field: authentication failed") from exc

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(f"v1.{self._current_id}.")


def keyed_hash(key: str, value: str) -> str:
    """Searchable, non-reversible stand-in for a phone or ID number (HMAC-SHA256)."""
    return hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()


def reporter_key(key: str, phone_hash: str | None) -> str | None:
    """A reporter's pseudonym for early warning (repeat reporters): a keyed hash of the phone's keyed
    hash, domain-separated, so it cannot be matched against stored phone hashes nor reversed without
    the key. None for an anonymous report."""
    if not phone_hash:
        return None
    return keyed_hash(key, f"reporter-key:{phone_hash}")[:16]
