"""Bearer tokens: compact JWTs (HS256 with a key derived from `HUB_TOKEN_SECRET`).

An access token carries who it was issued to (`sub`: client id or user id), the kind of principal
(`knd`: client, user or system), the role, department, system and rate limit, and for a person the
sign-in session (`sid`). The signature and expiry are checked here; whether the client is still enabled,
or the person's session still live, is checked on every request against the database
(gateway/accounts/sessions.py `LiveCheck`), so revocation takes effect at once on every replica.

A person's refresh token is another JWT, for another audience: user, session and the generation of
the one live refresh token of that session (rotation and reuse detection: gateway/accounts/login.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from gateway.auth.clients import Identity
from gateway.auth.roles import ROLES, SYSTEMS

TOKEN_TTL_S = 900
ISSUER = "referral-hub"
AUDIENCE = "referral-hub-api"
REFRESH_AUDIENCE = "referral-hub-refresh"
KINDS = ("client", "user", "system")
_INVALID = "令牌无效 (invalid token)"


class TokenError(Exception):
    """Why a bearer token was refused (safe to tell the client)."""


@dataclass(frozen=True)
class RefreshClaims:
    user_id: str
    session_id: str
    generation: int


class TokenIssuer:
    def __init__(self, secret: str, *, ttl_s: int = TOKEN_TTL_S) -> None:
        # A key of its own, derived from HUB_TOKEN_SECRET: a secret shared with another use (or a
        # short one) never signs tokens directly, and the key has SHA-256's full 32 bytes.
        self._key = hmac.new(secret.encode(), b"referral-hub api tokens v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, identity: Identity, *, ttl_s: int | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.client_id,
            "iat": now,
            "exp": now + (self.ttl_s if ttl_s is None else ttl_s),
            "jti": uuid.uuid4().hex,
            "knd": identity.kind,
            "role": identity.role,
            "rpm": identity.rate_limit_per_minute,
        }
        if identity.department:
            claims["dept"] = identity.department
        if identity.system:
            claims["sys"] = identity.system
        if identity.session_id:
            claims["sid"] = identity.session_id
        return jwt.encode(claims, self._key, algorithm="HS256")

    def issue_refresh(self, refresh: RefreshClaims, ttl_s: int) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": REFRESH_AUDIENCE,
            "sub": refresh.user_id,
            "sid": refresh.session_id,
            "gen": refresh.generation,
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def _decode(self, token: str, audience: str, required: list[str]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=audience,
                issuer=ISSUER,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "iss", "aud", *required]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("令牌已过期 (token expired)") from None
        except jwt.InvalidTokenError:
            raise TokenError(_INVALID) from None
        return claims

    def verify(self, token: str) -> Identity:
        claims = self._decode(token, AUDIENCE, [])
        role, rpm, kind = claims.get("role"), claims.get("rpm"), claims.get("knd", "client")
        if role not in ROLES or not isinstance(rpm, int) or rpm < 1 or kind not in KINDS:
            raise TokenError(_INVALID)
        department, system, session_id = claims.get("dept"), claims.get("sys"), claims.get("sid")
        if (role == "department") != isinstance(department, str) or (role == "adapter") != (
            system in SYSTEMS
        ):
            raise TokenError(_INVALID)
        if (kind == "user") != isinstance(session_id, str):
            raise TokenError(_INVALID)  # a person's token always names its session; others never
        return Identity(str(claims["sub"]), role, department, system, rpm, kind=kind, session_id=session_id)

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, REFRESH_AUDIENCE, ["sid", "gen"])
        session_id, generation = claims["sid"], claims["gen"]
        if not isinstance(session_id, str) or not isinstance(generation, int) or generation < 0:
            raise TokenError(_INVALID)
        return RefreshClaims(str(claims["sub"]), session_id, generation)
