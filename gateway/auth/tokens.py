"""Bearer tokens: a compact JWT (HS256 with a key derived from `HUB_TOKEN_SECRET`) that lives 15
minutes and carries the client id, role, department, system and rate limit, so checking a request
needs no database. A disabled client's token expires within those 15 minutes."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any

import jwt

from gateway.auth.clients import Identity
from gateway.auth.roles import ROLES, SYSTEMS

TOKEN_TTL_S = 900
ISSUER = "referral-hub"
AUDIENCE = "referral-hub-api"


class TokenError(Exception):
    """Why a bearer token was refused (safe to tell the client)."""


class TokenIssuer:
    def __init__(self, secret: str, *, ttl_s: int = TOKEN_TTL_S) -> None:
        # A key of its own, derived from HUB_TOKEN_SECRET: a secret shared with another use (or a
        # short one) never signs tokens directly, and the key has SHA-256's full 32 bytes.
        self._key = hmac.new(secret.encode(), b"referral-hub api tokens v1", hashlib.sha256).digest()
        self.ttl_s = ttl_s

    def issue(self, identity: Identity) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": identity.client_id,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "role": identity.role,
            "rpm": identity.rate_limit_per_minute,
        }
        if identity.department:
            claims["dept"] = identity.department
        if identity.system:
            claims["sys"] = identity.system
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=5,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("令牌已过期 (token expired)") from None
        except jwt.InvalidTokenError:
            raise TokenError("令牌无效 (invalid token)") from None
        role, rpm = claims.get("role"), claims.get("rpm")
        if role not in ROLES or not isinstance(rpm, int) or rpm < 1:
            raise TokenError("令牌无效 (invalid token)")
        department, system = claims.get("dept"), claims.get("sys")
        if (role == "department") != isinstance(department, str) or (role == "adapter") != (
            system in SYSTEMS
        ):
            raise TokenError("令牌无效 (invalid token)")
        return Identity(str(claims["sub"]), role, department, system, rpm)
