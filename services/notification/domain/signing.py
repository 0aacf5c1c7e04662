"""Pure request-signing functions: Aliyun SMS (RPC signature v1), chat robots, hub webhooks.

Callers pass the clock (timestamps, nonces, `now`) in, so every function here is deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import quote, quote_plus, unquote_plus

# --- Aliyun Dysms RPC signature, version 1.0 (HMAC-SHA1) -------------------------------------

ALIYUN_SMS_VERSION = "2017-05-25"


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding of UTF-8: only A-Z a-z 0-9 - _ . ~ stay; space is %20, * is %2A."""
    return quote(value, safe="~")


def aliyun_canonicalized_query(params: Mapping[str, str]) -> str:
    """Encoded ``key=value`` pairs sorted by encoded key; the Signature parameter itself is left out."""
    pairs = sorted(
        (aliyun_percent_encode(k), aliyun_percent_encode(v)) for k, v in params.items() if k != "Signature"
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    encode = aliyun_percent_encode
    return f"{method.upper()}&{encode('/')}&{encode(aliyun_canonicalized_query(params))}"


def aliyun_signature(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``AccessKeySecret + "&"``."""
    key = f"{access_key_secret}&".encode()
    # SHA-1 is what the provider's signature version 1.0 mandates, not a choice of ours.
    digest = hmac.new(key, aliyun_string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_aliyun_signature(
    access_key_secret: str, method: str, params: Mapping[str, str], signature: str
) -> bool:
    """Constant-time check of a received ``Signature`` (for the provider simulator)."""
    expected = aliyun_signature(access_key_secret, method, params)
    return hmac.compare_digest(expected.encode(), signature.encode())


def aliyun_signed_query(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """The full query string to send: ``Signature=…&`` followed by the canonicalised parameters."""
    signature = aliyun_percent_encode(aliyun_signature(access_key_secret, method, params))
    return f"Signature={signature}&{aliyun_canonicalized_query(params)}"


def aliyun_send_sms_params(
    *,
    access_key_id: str,
    phone_numbers: str,
    sign_name: str,
    template_code: str,
    template_param_json: str,
    timestamp: datetime,
    nonce: str,
    region_id: str = "cn-hangzhou",
    out_id: str | None = None,
) -> dict[str, str]:
    """Common and SendSms parameters, ready for `aliyun_signed_query` (timestamp must be aware)."""
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamp must be an aware datetime")
    params = {
        "AccessKeyId": access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": region_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": ALIYUN_SMS_VERSION,
        "PhoneNumbers": phone_numbers,
        "SignName": sign_name,
        "TemplateCode": template_code,
        "TemplateParam": template_param_json,
    }
    if out_id is not None:
        params["OutId"] = out_id
    return params


def aliyun_query_send_details_params(
    *,
    access_key_id: str,
    phone_number: str,
    send_date: str,
    timestamp: datetime,
    nonce: str,
    page_size: int = 50,
    current_page: int = 1,
    biz_id: str | None = None,
    region_id: str = "cn-hangzhou",
) -> dict[str, str]:
    """QuerySendDetails: one phone's records of one day (``yyyyMMdd``, China time), 1–50 a page.

    Each record carries the ``OutId`` given to SendSms, so a sender that lost its own record of a
    send can find out whether the provider has it.
    """
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamp must be an aware datetime")
    if not (len(send_date) == 8 and send_date.isascii() and send_date.isdigit()):
        raise ValueError("send_date must be yyyyMMdd")
    if not 1 <= page_size <= 50 or current_page < 1:
        raise ValueError("page_size must be 1–50 and current_page ≥ 1")
    params = {
        "AccessKeyId": access_key_id,
        "Action": "QuerySendDetails",
        "Format": "JSON",
        "RegionId": region_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": nonce,
        "SignatureVersion": "1.0",
        "Timestamp": timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": ALIYUN_SMS_VERSION,
        "PhoneNumber": phone_number,
        "SendDate": send_date,
        "PageSize": str(page_size),
        "CurrentPage": str(current_page),
    }
    if biz_id is not None:
        params["BizId"] = biz_id
    return params


# --- Enterprise-chat robots ------------------------------------------------------------------


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot ``sign``: url-encoded base64 HMAC-SHA256(secret, ``timestamp + "\n" + secret``)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode("ascii"))


def dingtalk_signed_url(webhook_url: str, secret: str, timestamp_ms: int) -> str:
    """The robot webhook URL (already carrying its access_token) with timestamp and sign appended."""
    separator = "&" if "?" in webhook_url else "?"
    return f"{webhook_url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


DINGTALK_TOLERANCE = timedelta(hours=1)


def verify_dingtalk_sign(
    secret: str, timestamp_ms: str, sign: str, now: datetime, *, tolerance: timedelta = DINGTALK_TOLERANCE
) -> None:
    """Raise `SignatureError` unless `sign` (as received, URL-decoded) fits `timestamp_ms` and `now`.

    For the robot simulator: the robot refuses a timestamp more than an hour from its clock.
    """
    if not (timestamp_ms.isascii() and timestamp_ms.isdigit()):
        raise SignatureError("malformed", "timestamp must be unix milliseconds")
    expected = unquote_plus(dingtalk_sign(secret, int(timestamp_ms)))
    if not hmac.compare_digest(expected.encode(), sign.encode()):
        raise SignatureError("mismatch", "sign does not match")
    if abs(now.timestamp() * 1000 - int(timestamp_ms)) > tolerance.total_seconds() * 1000:
        raise SignatureError("stale", "timestamp is outside the accepted window")


# --- Hub webhook signature: X-Hub-Signature: <alg>=<hex HMAC(secret, timestamp + "." + body)> ----

# SM3 for deployments that must pass the commercial cryptography assessment (密评).
HUB_SIGNATURE_ALGORITHMS = frozenset({"sha256", "sm3"})
DEFAULT_TOLERANCE = timedelta(minutes=5)

SignatureProblem = Literal["malformed", "mismatch", "stale"]


class SignatureError(ValueError):
    """Verification failed; `reason` tells ops whether to suspect a client clock or a forgery."""

    def __init__(self, reason: SignatureProblem, message: str) -> None:
        super().__init__(message)
        self.reason: SignatureProblem = reason


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise ValueError("an empty signing secret is never acceptable")
    return key


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in HUB_SIGNATURE_ALGORITHMS:
        raise ValueError(f"unsupported signature algorithm {algorithm!r}")


def hub_signature(secret: str | bytes, timestamp: str, body: bytes, algorithm: str = "sha256") -> str:
    """The ``X-Hub-Signature`` value for `body` sent at `timestamp` (unix seconds as text)."""
    _check_algorithm(algorithm)
    mac = hmac.new(_key(secret), timestamp.encode() + b"." + body, algorithm).hexdigest()
    return f"{algorithm}={mac}"


def hub_signature_headers(
    secret: str | bytes, body: bytes, now: datetime, algorithm: str = "sha256"
) -> dict[str, str]:
    """Headers for an outgoing signed request."""
    timestamp = str(int(now.timestamp()))
    signature = hub_signature(secret, timestamp, body, algorithm)
    return {"X-Hub-Timestamp": timestamp, "X-Hub-Signature": signature}


def verify_hub_signature(
    secret: str | bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    now: datetime,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    algorithm: str = "sha256",
) -> None:
    """Raise `SignatureError` unless `signature` is authentic and `timestamp` within `tolerance` of `now`.

    The algorithm is ours to choose, never the sender's. Replayed requests inside the window
    must be caught by the caller with a nonce or request-id store (that needs state).
    """
    _check_algorithm(algorithm)
    # isdigit() alone accepts full-width and other Unicode digits.
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureError("malformed", "X-Hub-Timestamp must be unix seconds")
    prefix, _, provided = signature.partition("=")
    if prefix != algorithm or not provided:
        raise SignatureError("malformed", f"X-Hub-Signature must look like {algorithm}=<hex>")
    expected = hub_signature(secret, timestamp, body, algorithm).partition("=")[2]
    if not hmac.compare_digest(expected.encode(), provided.strip().lower().encode()):
        raise SignatureError("mismatch", "X-Hub-Signature does not match the request")
    if abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        raise SignatureError("stale", "X-Hub-Timestamp is outside the accepted window")
