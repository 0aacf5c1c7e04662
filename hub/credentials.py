"""The trust boundary inside the hub: who is acting, as the gateway vouches for it to a service.

The gateway authenticates people and systems; for every request it forwards, it mints an *internal
credential*: a compact JWT signed with Ed25519 (EdDSA), addressed to one service (`aud`), living
`INTERNAL_TTL_S` seconds, naming the principal. Services hold only the public key(s): they can check a
credential, never make one, so a process that reaches a service port without going through the gateway
(or that owns a service) cannot act as anyone. Keys are raw 32-byte Ed25519 keys in base64; several
verify keys are accepted so the gateway's key can rotate without downtime.

The development key pair is derived from a fixed seed: usable on a laptop and in tests (which mint
credentials for direct service calls with it), refused in production by each process's settings.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

CREDENTIAL_HEADER = "X-Hub-Credential"
INTERNAL_TTL_S = 60
ISSUER = "referral-hub-gateway"
PrincipalKind = Literal["user", "client", "system"]
KINDS: tuple[str, ...] = ("user", "client", "system")


@dataclass(frozen=True)
class Principal:
    """Who acts: a named person (`user`), an API client (`client`), or the hub itself / an external system
    through its adapter (`system`). `centre` is the area code of the centre a person belongs to (None: the
    whole hub, as for systems); `name` is a person's display name, for the audit trail only (never in logs,
    spans or metric labels)."""

    kind: PrincipalKind
    id: str
    role: str
    name: str | None = None
    centre: str | None = None
    department: str | None = None
    system: str | None = None
    grid: str | None = None  # a grid worker's grid code (网格), under their community centre

    def claims(self) -> dict[str, Any]:
        found: dict[str, Any] = {"sub": self.id, "knd": self.kind, "role": self.role}
        for key, value in (("name", self.name), ("ctr", self.centre), ("dept", self.department)):
            if value:
                found[key] = value
        if self.system:
            found["sys"] = self.system
        if self.grid:
            found["grd"] = self.grid
        return found


class CredentialError(Exception):
    """Why an internal credential was refused (safe to answer with)."""


def _b64key(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _seed(value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError("an internal signing key must be base64") from None
    if len(raw) != 32:
        raise ValueError(f"an internal signing key is 32 bytes (Ed25519 seed), got {len(raw)}")
    return raw


DEV_INTERNAL_SIGNING_KEY = _b64key(hashlib.sha256(b"referral-hub development internal credential").digest())


def public_key_of(signing_key_b64: str) -> str:
    """The verify key (base64 raw public key) of a signing key (base64 raw Ed25519 seed)."""
    private = Ed25519PrivateKey.from_private_bytes(_seed(signing_key_b64))
    return _b64key(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


DEV_INTERNAL_VERIFY_KEY = public_key_of(DEV_INTERNAL_SIGNING_KEY)


def new_signing_key() -> str:
    """A fresh signing key for a deployment (`hub keys internal`)."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return _b64key(raw)


def _kid(public_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:8]


class CredentialMinter:
    """The gateway's half: signs a credential for one service and one request."""

    def __init__(
        self, signing_key_b64: str, *, ttl_s: int = INTERNAL_TTL_S, instance: str | None = None
    ) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(_seed(signing_key_b64))
        self._kid = _kid(public_key_of(signing_key_b64))
        self.ttl_s = ttl_s
        self.instance = instance

    def mint(self, principal: Principal, audience: str) -> str:
        now = int(time.time())
        claims = {
            **principal.claims(),
            "iss": ISSUER,
            "aud": audience,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if self.instance:
            claims["ins"] = self.instance
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self._kid})

    def headers(self, principal: Principal, audience: str) -> dict[str, str]:
        return {CREDENTIAL_HEADER: self.mint(principal, audience)}


class CredentialVerifier:
    """A service's half: checks a credential addressed to it, with any of the accepted public keys."""

    def __init__(
        self, verify_keys_b64: tuple[str, ...] | list[str], audience: str, *, instance: str | None = None
    ) -> None:
        if not verify_keys_b64:
            raise ValueError("at least one internal verify key is needed")
        self._keys = {
            _kid(k): Ed25519PublicKey.from_public_bytes(base64.b64decode(k, validate=True))
            for k in verify_keys_b64
        }
        self.audience = audience
        self.instance = instance

    def verify(self, token: str | None) -> Principal:
        if not token:
            raise CredentialError("缺少内部凭证：只接受经网关转发的请求 (internal credential missing)")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise CredentialError("内部凭证的签名密钥未知 (unknown internal key)")
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.audience,
                issuer=ISSUER,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise CredentialError("内部凭证已过期 (internal credential expired)") from None
        except jwt.InvalidTokenError:
            raise CredentialError("内部凭证无效 (invalid internal credential)") from None
        named = claims.get("ins")
        if self.instance and named is not None and named != self.instance:
            # A gateway of another hub on this machine (a port or URL pointing at the wrong instance).
            raise CredentialError("内部凭证属于另一个平台实例 (credential of another hub instance)")
        kind, role = claims.get("knd"), claims.get("role")
        if kind not in KINDS or not isinstance(role, str) or not role:
            raise CredentialError("内部凭证无效 (invalid internal credential)")
        text = {
            k: claims.get(k) if isinstance(claims.get(k), str) else None
            for k in ("name", "ctr", "dept", "sys", "grd")
        }
        return Principal(
            kind=kind,
            id=str(claims["sub"]),
            role=role,
            name=text["name"],
            centre=text["ctr"],
            department=text["dept"],
            system=text["sys"],
            grid=text["grd"],
        )
