"""The kit's pure pieces: event envelope, field encryption, problem details."""

from __future__ import annotations

import base64
import json

import pytest

from hub.crypto import DecryptionError, FieldCipher, keyed_hash
from hub.messaging.envelope import Event, MalformedEvent, parse_event
from hub.tracing import split_traceparent

KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()


def test_event_round_trips_as_cloudevents_structured_json() -> None:
    event = Event(
        type="case.registered.v1",
        source="hub/intake",
        subject="ZZ-20261122-000001",
        data={"case_no": "ZZ-20261122-000001", "colour": "red", "标题": "欠薪"},
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    body = json.loads(event.to_json())
    assert body["specversion"] == "1.0" and body["type"] == "case.registered.v1"
    assert body["traceparent"].startswith("00-0af7")
    back = parse_event(event.to_json())
    assert back == event


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"[]",
        b'{"specversion": "1.0"}',
        b'{"specversion":"1.0","id":"1","source":"s","type":"t","data":"x"}',
    ],
)
def test_anything_else_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(body)


AAD = "intake.cases|ZZ-20261122-000001|reporter_phone_enc"


def test_field_cipher_round_trips_and_rotates_keys() -> None:
    old = FieldCipher(KEY_A)
    token = old.encrypt("13812341234", aad=AAD)
    assert token and "13812341234" not in token
    rotated = FieldCipher(KEY_B, (KEY_A,))
    assert rotated.decrypt(token, aad=AAD) == "13812341234"  # old ciphertext still readable
    assert rotated.needs_rotation(token)
    assert not rotated.needs_rotation(rotated.encrypt("x", aad=AAD) or "")
    with pytest.raises(DecryptionError):
        FieldCipher(KEY_B).decrypt(token, aad=AAD)  # key retired: a clear error, not garbage


def test_tampered_ciphertext_is_refused() -> None:
    cipher = FieldCipher(KEY_A)
    token = cipher.encrypt("张三", aad=AAD) or ""
    prefix, blob = token.rsplit(".", 1)
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError):
        cipher.decrypt(f"{prefix}.{base64.b64encode(bytes(raw)).decode()}", aad=AAD)


def test_keyed_hash_is_stable_and_keyed() -> None:
    assert keyed_hash("k1", "13812341234") == keyed_hash("k1", "13812341234")
    assert keyed_hash("k1", "13812341234") != keyed_hash("k2", "13812341234")


def test_traceparent_split() -> None:
    assert split_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
    )
    assert split_traceparent("garbage") == (None, None)
