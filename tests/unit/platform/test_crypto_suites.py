"""Both cryptographic suites (HUB_CRYPTO): field encryption bound to its row, the v1 format still read,
keys that do not fit refused, HMAC-SM3 against known answers, versioned audit chain keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pickle
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from hub import audit
from hub.config import Settings
from hub.crypto import (
    DecryptionError,
    FieldCipher,
    HashKey,
    Suite,
    field_cipher,
    keyed_hash,
    mac_hex,
    row_aad,
)

AES_KEY = base64.b64encode(b"a" * 32).decode()
SM4_KEY = base64.b64encode(b"s" * 16).decode()
KEY_16 = base64.b64encode(b"k" * 16).decode()
KEYS = {Suite.international: AES_KEY, Suite.national: SM4_KEY}
NAMES = {Suite.international: "aesgcm", Suite.national: "sm4gcm"}

PHONE = "13812341234"
HERE = row_aad("intake", "cases", "ZZ-20261122-000001", "reporter_phone_enc")
OTHER_ROW = row_aad("intake", "cases", "ZZ-20261122-000002", "reporter_phone_enc")
OTHER_COLUMN = row_aad("intake", "cases", "ZZ-20261122-000001", "reporter_name_enc")


@pytest.mark.parametrize("suite", list(Suite))
def test_round_trip_in_the_self_describing_format(suite: Suite) -> None:
    cipher = FieldCipher(KEYS[suite], suite=suite)
    token = cipher.encrypt(PHONE, aad=HERE) or ""
    version, name, kid, blob = token.split(".")
    assert (version, name, len(kid)) == ("v2", NAMES[suite], 8)
    assert PHONE not in token and base64.b64decode(blob)
    assert cipher.decrypt(token, aad=HERE) == PHONE
    assert cipher.encrypt(None, aad=HERE) is None and cipher.decrypt(None, aad=HERE) is None
    assert not cipher.needs_rotation(token)
    assert cipher.encrypt(PHONE, aad=HERE) != token  # a fresh nonce each time


@pytest.mark.parametrize("suite", list(Suite))
@pytest.mark.parametrize("elsewhere", [OTHER_ROW, OTHER_COLUMN], ids=["another row", "another column"])
def test_a_ciphertext_copied_elsewhere_does_not_decrypt(suite: Suite, elsewhere: str) -> None:
    cipher = FieldCipher(KEYS[suite], suite=suite)
    token = cipher.encrypt(PHONE, aad=HERE)
    with pytest.raises(DecryptionError, match="authentication failed"):
        cipher.decrypt(token, aad=elsewhere)


@pytest.mark.parametrize("suite", list(Suite))
def test_the_header_is_authenticated_too(suite: Suite) -> None:
    """Relabelling a value's suite or key id does not make it open under another primitive."""
    cipher = FieldCipher(KEYS[suite], (KEY_16,), suite=suite)
    token = cipher.encrypt(PHONE, aad=HERE) or ""
    other = NAMES[Suite.national if suite is Suite.international else Suite.international]
    with pytest.raises(DecryptionError):
        cipher.decrypt(token.replace(f".{NAMES[suite]}.", f".{other}.", 1), aad=HERE)


def _v1(key_b64: str, plaintext: str) -> str:
    """A value as the hub wrote it before associated data: "v1.<sha256 key id>.<b64>", AES-GCM."""
    key = base64.b64decode(key_b64)
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1.{hashlib.sha256(key).hexdigest()[:8]}.{base64.b64encode(nonce + sealed).decode()}"


@pytest.mark.parametrize("suite", list(Suite))
def test_the_v1_format_is_still_read_and_marked_for_rotation(suite: Suite) -> None:
    old = _v1(AES_KEY, PHONE)
    current = KEYS[suite]
    cipher = FieldCipher(current, () if current == AES_KEY else (AES_KEY,), suite=suite)
    assert cipher.decrypt(old, aad=HERE) == PHONE  # no associated data in v1: any aad
    assert cipher.needs_rotation(old)
    with pytest.raises(DecryptionError, match="v1 format"):
        FieldCipher(current, (AES_KEY,), suite=suite, read_v1=False).decrypt(old, aad=HERE)


def test_switching_suites_keeps_old_values_readable_until_rotated() -> None:
    before = FieldCipher(AES_KEY).encrypt(PHONE, aad=HERE)
    after = FieldCipher(SM4_KEY, (AES_KEY,), suite=Suite.national)
    assert after.decrypt(before, aad=HERE) == PHONE
    assert after.needs_rotation(before or "")
    with pytest.raises(DecryptionError, match="unknown key"):
        FieldCipher(SM4_KEY, suite=Suite.national).decrypt(before, aad=HERE)


@pytest.mark.parametrize(
    ("suite", "key", "message"),
    [
        (Suite.national, AES_KEY, "16 bytes for HUB_CRYPTO=national"),
        (Suite.national, base64.b64encode(b"x" * 24).decode(), "SM4 keys are 128 bits"),
        (Suite.international, base64.b64encode(b"x" * 20).decode(), "16, 24 or 32 bytes"),
        (Suite.international, "not base64!", "must be base64"),
    ],
)
def test_a_key_that_does_not_fit_the_suite_is_refused(suite: Suite, key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FieldCipher(key, suite=suite)
    with pytest.raises(ValidationError, match=message):
        Settings(crypto=suite, pii_key=key)


def test_settings_choose_the_suite_and_national_development_key_is_sm4_sized() -> None:
    national = Settings(crypto=Suite.national)
    assert len(base64.b64decode(national.pii_key)) == 16
    assert field_cipher(national).suite is Suite.national
    assert isinstance(national.hash_key, HashKey) and national.hash_key.suite is Suite.national
    with pytest.raises(ValidationError, match="development secrets"):
        Settings(env="prod", crypto=Suite.national, hash_key="h")  # type: ignore[arg-type]


def test_sm3_known_answer() -> None:
    """GB/T 32905 example 1: SM3("abc")."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")
    expected = "66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0"
    assert digest.finalize().hex() == expected.replace(" ", "")


def _hmac_sm3_by_hand(key: bytes, message: bytes) -> str:
    """RFC 2104 / GB/T 15852.2 HMAC over SM3 (64-byte blocks), written out independently."""

    def sm3(data: bytes) -> bytes:
        h = hashes.Hash(hashes.SM3())
        h.update(data)
        return h.finalize()

    block = (sm3(key) if len(key) > 64 else key).ljust(64, b"\0")
    inner = sm3(bytes(b ^ 0x36 for b in block) + message)
    return sm3(bytes(b ^ 0x5C for b in block) + inner).hex()


@pytest.mark.parametrize("key", ["k", "hub-hash-key", "长" * 40])
def test_hmac_sm3_matches_the_construction(key: str) -> None:
    national = HashKey(key, suite=Suite.national)
    assert keyed_hash(national, PHONE) == _hmac_sm3_by_hand(key.encode(), PHONE.encode())
    assert keyed_hash(national, PHONE) != keyed_hash(key, PHONE)  # the suite changes every hash
    assert keyed_hash(key, PHONE) == hmac.new(key.encode(), PHONE.encode(), hashlib.sha256).hexdigest()
    assert len(keyed_hash(national, PHONE)) == 64  # fits the same columns


def test_the_hash_key_carries_suite_and_versions_through_pickling() -> None:
    settings = Settings(crypto=Suite.national, hash_key="new", hash_key_version=2, hash_old_keys=("1:old",))
    key = pickle.loads(pickle.dumps(settings)).hash_key  # noqa: S301 (our own bytes: the bulk import worker's path)
    assert (key.suite, key.version, key.secret_of(1), key.secret_of(2), key.secret_of(3)) == (
        Suite.national,
        2,
        "old",
        "new",
        None,
    )
    for bad in (("old",), ("x:old",), ("1:a", "1:b")):
        with pytest.raises(ValidationError, match="HUB_HASH_OLD_KEYS"):
            Settings(hash_key="new", hash_key_version=2, hash_old_keys=bad)
    with pytest.raises(ValidationError, match="HUB_HASH_KEY_VERSION"):
        Settings(hash_key="new", hash_key_version=1, hash_old_keys=("1:old",))


# --- versioned audit chain keys -----------------------------------------------------------------------


def _append(rows: list[dict[str, Any]], key: str, n: int) -> None:
    start = datetime(2026, 11, 22, 9, tzinfo=UTC)
    for _ in range(n):
        seq = len(rows) + 1
        row: dict[str, Any] = {
            "seq": seq,
            "at": start + timedelta(minutes=seq),
            "actor_role": "centre",
            "actor_id": "sup-001",
            "action": "case.assessment_overridden",
            "case_no": f"ZZ-20261122-{seq:06d}",
            "detail": audit.json_safe({"n": seq}),
            "prev_hash": rows[-1]["hash"] if rows else audit.GENESIS,
            "key_version": getattr(key, "version", 1),
            "mac": audit.MAC_NAMES[getattr(key, "suite", Suite.international)],
        }
        row["hash"] = audit.chain_hash(key, row["prev_hash"], audit.entry_of(row))
        rows.append(row)


def test_a_rotated_hash_key_starts_a_new_segment_and_history_still_verifies() -> None:
    v1 = HashKey("first", suite=Suite.international, version=1)
    v2 = HashKey("second", suite=Suite.national, version=2, older={1: "first"})
    rows: list[dict[str, Any]] = []
    _append(rows, v1, 3)
    _append(rows, v2, 2)  # the suite switched to national with the key
    result = audit.verify(rows, v2)
    assert result.ok and result.checked == 5
    assert result.segments == ((1, "hmac-sha256", 1), (2, "hmac-sm3", 4))
    assert rows[3]["prev_hash"] == rows[2]["hash"]  # one chain: the new segment links to the old

    forgotten = audit.verify(rows, HashKey("second", suite=Suite.national, version=2))
    assert not forgotten.ok and forgotten.first_bad_seq == 1 and "version 1" in forgotten.reason

    tampered = [dict(r) for r in rows]
    tampered[4]["detail"] = {"n": 99}
    assert audit.verify(tampered, v2).first_bad_seq == 5


def test_a_retired_key_cannot_extend_the_chain() -> None:
    """Someone holding a leaked old key appends under its version: reported, though its MAC is right."""
    v1 = HashKey("first", version=1)
    v2 = HashKey("second", version=2, older={1: "first"})
    rows: list[dict[str, Any]] = []
    _append(rows, v1, 2)
    _append(rows, v2, 2)
    _append(rows, v1, 1)
    result = audit.verify(rows, v2)
    assert not result.ok and result.first_bad_seq == 5 and "retired hash key version 1" in result.reason


def test_entries_from_before_versions_verify_as_version_one() -> None:
    rows: list[dict[str, Any]] = []
    _append(rows, "plain-key", 3)
    for row in rows:
        del row["key_version"], row["mac"]  # a row read before the migration added the columns
    assert audit.verify(rows, HashKey("plain-key")).ok
    assert mac_hex(Suite.international, "k", b"m") == hmac.new(b"k", b"m", hashlib.sha256).hexdigest()
