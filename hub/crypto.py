"""Field encryption and keyed hashes for personal data (PIPL), in one of two suites (docs/cryptography.md).

- `HUB_CRYPTO=international`: AES-GCM fields, HMAC-SHA256 keyed hashes.
- `HUB_CRYPTO=national` (密评, GM/T 0054): SM4-GCM fields (GB/T 32907, 128-bit keys), HMAC-SM3 keyed
  hashes (GB/T 32905).

Each suite's block cipher is one class behind one interface (`Aead`: `AesGcm`, `Sm4Gcm`); `FieldCipher`
puts the current key of the chosen suite in front and keeps every configured key for reading.

Ciphertext is self-describing: "v2.<suite>.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>", where suite
is `aesgcm` or `sm4gcm`, and every encryption binds *associated data*: the identity of the place the
value belongs to (`row_aad("intake", "cases", case_no, "reporter_phone_enc")`, or `event_aad(...)`
for a copy inside an event). A value copied to another row or column fails to decrypt
(DecryptionError) instead of revealing one person's data under another's case. The header (version,
suite, key id) is authenticated with it. The older format "v1.<key id>.<base64>" (AES-GCM, no
associated data) is still read, so existing data decrypts until `hub pii rotate` rewrites it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.contracts.aad import event_aad, row_aad

if TYPE_CHECKING:
    from hub.config import Settings


__all__ = [
    "Aead",
    "AesGcm",
    "DecryptionError",
    "FieldCipher",
    "HashKey",
    "Sm4Gcm",
    "Suite",
    "event_aad",
    "field_cipher",
    "keyed_hash",
    "mac_hex",
    "reporter_key",
    "row_aad",
]


class Suite(StrEnum):
    international = "international"
    national = "national"


class DecryptionError(ValueError):
    pass


_NONCE = 12
_TAG = 16


# --- the block ciphers: one class per suite --------------------------------------------------------


class Aead(Protocol):
    """Authenticated encryption with associated data (the one interface of both suites)."""

    name: str  # as written in the ciphertext

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes: ...


class AesGcm:
    name = "aesgcm"
    key_sizes = (16, 24, 32)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad or None)

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(nonce, ciphertext, aad or None)


class Sm4Gcm:
    """SM4 (GB/T 32907) in GCM mode: 128-bit key, 96-bit nonce, 128-bit tag."""

    name = "sm4gcm"
    key_sizes = (16,)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        encryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return body + encryptor.tag

    def open(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        if len(ciphertext) < _TAG:
            raise InvalidTag()
        body, tag = ciphertext[:-_TAG], ciphertext[-_TAG:]
        decryptor = Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(body) + decryptor.finalize()


_AEAD: dict[Suite, type[AesGcm] | type[Sm4Gcm]] = {Suite.international: AesGcm, Suite.national: Sm4Gcm}
_SUITE_OF_NAME = {cls.name: suite for suite, cls in _AEAD.items()}


def key_sizes(suite: Suite) -> tuple[int, ...]:
    return _AEAD[suite].key_sizes


def check_key(suite: Suite, key_b64: str, what: str = "HUB_PII_KEY") -> bytes:
    """The key's bytes, or a ValueError naming the setting and what the suite needs."""
    try:
        key = base64.b64decode(key_b64, validate=True)
    except ValueError:
        raise ValueError(f"{what} must be base64") from None
    sizes = key_sizes(suite)
    if len(key) not in sizes:
        need = " or ".join(filter(None, (", ".join(str(s) for s in sizes[:-1]), str(sizes[-1]))))
        algorithm = (
            "SM4 keys are 128 bits" if suite is Suite.national else "AES keys are 128, 192 or 256 bits"
        )
        raise ValueError(
            f"{what} must decode to {need} bytes for HUB_CRYPTO={suite.value} ({algorithm}); got {len(key)}"
        )
    return key


def _digest(suite: Suite, data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3() if suite is Suite.national else hashes.SHA256())
    h.update(data)
    return h.finalize()


def _key_id(suite: Suite, key: bytes) -> str:
    return _digest(suite, key).hex()[:8]


# --- field encryption ------------------------------------------------------------------------------


class FieldCipher:
    """Encrypts with the current key of the chosen suite; decrypts with any configured key.

    Old keys (`HUB_PII_OLD_KEYS`) may be of either suite (a deployment switching to national
    cryptography keeps its AES key there until `hub pii rotate` has rewritten everything)."""

    def __init__(
        self,
        current_key_b64: str,
        old_keys_b64: Iterable[str] = (),
        *,
        suite: Suite = Suite.international,
        read_v1: bool = True,
    ) -> None:
        self.suite = suite
        current = check_key(suite, current_key_b64)
        self._current: Aead = _AEAD[suite](current)
        self._current_id = _key_id(suite, current)
        self._prefix = f"v2.{self._current.name}.{self._current_id}."
        self._ring: dict[tuple[str, str], Aead] = {}
        self._v1: dict[str, Aead] = {}
        self._read_v1 = read_v1
        for key in (current, *(base64.b64decode(k) for k in old_keys_b64)):
            for ring_suite, cls in _AEAD.items():
                if len(key) in cls.key_sizes:
                    self._ring[(cls.name, _key_id(ring_suite, key))] = cls(key)
            if len(key) in AesGcm.key_sizes:
                self._v1[hashlib.sha256(key).hexdigest()[:8]] = AesGcm(key)

    def encrypt(self, plaintext: str | None, *, aad: str) -> str | None:
        if plaintext is None:
            return None
        nonce = os.urandom(_NONCE)
        sealed = self._current.seal(nonce, plaintext.encode("utf-8"), self._bound(self._prefix, aad))
        return f"{self._prefix}{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str | None, *, aad: str) -> str | None:
        if token is None:
            return None
        try:
            if token.startswith("v1."):
                if not self._read_v1:
                    raise DecryptionError("cannot decrypt field: the v1 format is no longer accepted")
                _version, kid, blob = token.split(".", 2)
                aead, bound = self._v1[kid], b""
            else:
                version, name, kid, blob = token.split(".", 3)
                if version != "v2":
                    raise ValueError(version)
                aead = self._ring[(name, kid)]
                bound = self._bound(f"{version}.{name}.{kid}.", aad)
            raw = base64.b64decode(blob, validate=True)
            return aead.open(raw[:_NONCE], raw[_NONCE:], bound).decode("utf-8")
        except (ValueError, KeyError) as exc:
            if isinstance(exc, DecryptionError):
                raise
            raise DecryptionError("cannot decrypt field: unknown key or damaged value") from exc
        except InvalidTag as exc:
            raise DecryptionError(
                "cannot decrypt field: authentication failed (wrong row or column, or altered)"
            ) from exc

    def needs_rotation(self, token: str) -> bool:
        """True unless the value is already in the current format under the current key."""
        return not token.startswith(self._prefix)

    @staticmethod
    def _bound(header: str, aad: str) -> bytes:
        return b"hub-field-v2\n" + header.encode("ascii") + b"\n" + aad.encode("utf-8")


def suite_of_token(token: str) -> Suite | None:
    """The suite a stored value was written with (None when it is not a field ciphertext)."""
    if token.startswith("v1."):
        return Suite.international
    parts = token.split(".", 3)
    return _SUITE_OF_NAME.get(parts[1]) if len(parts) == 4 and parts[0] == "v2" else None


def field_cipher(settings: Settings) -> FieldCipher:
    """The cipher the settings choose (every process builds its cipher here)."""
    return FieldCipher(
        settings.pii_key, settings.pii_old_keys, suite=settings.crypto, read_v1=settings.pii_read_v1
    )


# --- keyed hashes ----------------------------------------------------------------------------------


class HashKey(str):
    """The hash key's text (`HUB_HASH_KEY`), carrying the suite its MACs use and its version.

    A `str`, so callers that hand `settings.hash_key` along keep working; `older` holds the retired
    versions (`HUB_HASH_OLD_KEYS`, "version:key") that audit verification still needs. A plain `str`
    used as a key means version 1 of the international suite (what the hub did before versions)."""

    suite: Suite
    version: int
    older: Mapping[int, str]

    def __new__(
        cls,
        secret: str,
        *,
        suite: Suite = Suite.international,
        version: int = 1,
        older: Mapping[int, str] | None = None,
    ) -> HashKey:
        self = super().__new__(cls, secret)
        self.suite = suite
        self.version = version
        self.older = dict(older or {})
        return self

    def __reduce__(self) -> tuple[object, ...]:  # pickles (bulk import's worker processes)
        return (_rebuild_hash_key, (str(self), self.suite.value, self.version, dict(self.older)))

    def secret_of(self, version: int) -> str | None:
        """The key text of a version (this one or a retired one), None when it is not configured."""
        return str(self) if version == self.version else self.older.get(version)


def _rebuild_hash_key(secret: str, suite: str, version: int, older: dict[int, str]) -> HashKey:
    return HashKey(secret, suite=Suite(suite), version=version, older=older)


def suite_of_key(key: str) -> Suite:
    return key.suite if isinstance(key, HashKey) else Suite.international


def version_of_key(key: str) -> int:
    return key.version if isinstance(key, HashKey) else 1


MAC_NAMES = {Suite.international: "hmac-sha256", Suite.national: "hmac-sm3"}
_SUITE_OF_MAC = {name: suite for suite, name in MAC_NAMES.items()}


def suite_of_mac(name: str) -> Suite:
    try:
        return _SUITE_OF_MAC[name]
    except KeyError:
        raise ValueError(f"unknown MAC {name!r}") from None


def mac_hex(suite: Suite, key: str, message: bytes) -> str:
    """HMAC-SHA256 or HMAC-SM3 (GB/T 32905 with the HMAC construction of GB/T 15852.2), hex."""
    if suite is Suite.international:
        return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    mac = crypto_hmac.HMAC(key.encode("utf-8"), hashes.SM3())
    mac.update(message)
    return mac.finalize().hex()


def keyed_hash(key: str, value: str) -> str:
    """Searchable, non-reversible stand-in for a phone or ID number: HMAC under the key's suite."""
    return mac_hex(suite_of_key(key), key, value.encode("utf-8"))


def reporter_key(key: str, phone_hash: str | None) -> str | None:
    """A reporter's pseudonym for early warning (repeat reporters): a keyed hash of the phone's keyed
    hash, domain-separated, so it cannot be matched against stored phone hashes nor reversed without
    the key. None for an anonymous report."""
    if not phone_hash:
        return None
    return keyed_hash(key, f"reporter-key:{phone_hash}")[:16]
