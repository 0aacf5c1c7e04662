"""The client store: API clients (table `clients`), their secrets stored only as scrypt hashes, and
the check of presented credentials (token endpoint, Open311 `api_key`).

A client has a role — centre, department (bound to one department code), adapter (bound to one
external system) or ops — a rate limit, and can be disabled: a disabled client gets no new token, and
the tokens it holds are refused on their next request (gateway/accounts/sessions.py `LiveCheck`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from gateway.auth.roles import CLIENT_ROLES, SYSTEMS
from gateway.tables import clients
from hub.credentials import Principal, PrincipalKind
from hub.db import Database

DEFAULT_RATE_PER_MINUTE = 600
DEPARTMENT_CODE = re.compile(r"^[\w.@:\-]{1,100}$")


@dataclass(frozen=True)
class Identity:
    """Who authenticated at the edge. `client_id` is the API client's id, or a person's user id when
    `kind` is "user" (then `name` is their display name, `centre` the area code of their centre and
    `session_id` their sign-in session); kind "system" is a token minted beside the hub with its
    secret (`hubcli.clients.local_token`), naming no stored client."""

    client_id: str
    role: str
    department: str | None = None
    system: str | None = None
    rate_limit_per_minute: int = DEFAULT_RATE_PER_MINUTE
    kind: PrincipalKind = "client"
    name: str | None = None
    centre: str | None = None
    session_id: str | None = None  # a person's sign-in session (gateway/accounts/sessions.py)
    grid: str | None = None  # a grid worker's grid code (decision 0024)

    def principal(self) -> Principal:
        """The principal the gateway vouches for to the services (hub/credentials.py)."""
        return Principal(
            kind=self.kind,
            id=self.client_id,
            role=self.role,
            name=self.name,
            centre=self.centre,
            department=self.department,
            system=self.system,
            grid=self.grid,
        )


@dataclass(frozen=True)
class NewClient:
    client_id: str
    secret: str
    role: str
    department: str | None
    system: str | None
    rate_limit_per_minute: int

    @property
    def api_key(self) -> str:
        """The Open311 `api_key` of an adapter client: its id and secret in one opaque string."""
        return f"{self.client_id}.{self.secret}"


# scrypt: memory-hard, in the standard library. n=2^14, r=8 is 16 MiB and about 50 ms a check.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def validate_client_fields(role: str, department: str | None, system: str | None) -> None:
    if role not in CLIENT_ROLES:
        raise ValueError(f"role must be one of {', '.join(CLIENT_ROLES)}")
    if role == "department":
        if not department or not DEPARTMENT_CODE.match(department):
            raise ValueError("a department client needs --department CODE (letters, digits, . @ : - _)")
    elif department:
        raise ValueError("--department is only for role department")
    if role == "adapter":
        if system not in SYSTEMS:
            raise ValueError(f"an adapter client needs --system, one of {', '.join(SYSTEMS)}")
    elif system:
        raise ValueError("--system is only for role adapter")


async def create_client(
    db: Database,
    role: str,
    *,
    department: str | None = None,
    system: str | None = None,
    rate_limit_per_minute: int = DEFAULT_RATE_PER_MINUTE,
) -> NewClient:
    """Register a client; the secret is returned here once and stored only as a hash."""
    validate_client_fields(role, department, system)
    if rate_limit_per_minute < 1:
        raise ValueError("the rate limit must be at least 1 request a minute")
    client_id = f"{role}-{secrets.token_hex(8)}"
    secret = secrets.token_urlsafe(32)
    secret_hash = await asyncio.to_thread(hash_secret, secret)
    async with db.transaction() as session:
        await session.execute(
            clients.insert().values(
                client_id=client_id,
                secret_hash=secret_hash,
                role=role,
                department=department,
                system=system,
                rate_limit_per_minute=rate_limit_per_minute,
                created_at=datetime.now(UTC),
                disabled=False,
            )
        )
    return NewClient(client_id, secret, role, department, system, rate_limit_per_minute)


async def set_disabled(db: Database, client_id: str, disabled: bool = True) -> bool:
    async with db.transaction() as session:
        result = await session.execute(
            update(clients).where(clients.c.client_id == client_id).values(disabled=disabled)
        )
    return bool(getattr(result, "rowcount", 0))


class ClientAuthenticator:
    """Checks client credentials against the table. A successful scrypt check is remembered for a
    minute (keyed by a hash of the presented secret), so a busy Open311 client does not pay scrypt on
    every request; the row itself (disabled?) is read every time, by primary key, so a client
    disabled on any replica is refused at once. At most two scrypt checks run at once, off the loop."""

    def __init__(self, db: Database, *, cache_s: float = 60.0) -> None:
        self.db = db
        self.cache_s = cache_s
        self._cache: dict[tuple[str, bytes], tuple[Identity, float]] = {}
        self._kdf_slots = asyncio.Semaphore(2)

    async def authenticate(self, client_id: str, secret: str) -> Identity | None:
        key = (client_id, hashlib.sha256(secret.encode()).digest())
        async with self.db.sessions() as session:
            row = (await session.execute(select(clients).where(clients.c.client_id == client_id))).first()
        if row is None or row.disabled:
            return None
        cached = self._cache.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        async with self._kdf_slots:
            ok = await asyncio.to_thread(verify_secret, secret, row.secret_hash)
        if not ok:
            return None
        identity = Identity(row.client_id, row.role, row.department, row.system, row.rate_limit_per_minute)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[key] = (identity, time.monotonic() + self.cache_s)
        return identity

    def forget(self, client_id: str | None = None) -> None:
        """Drop remembered checks (of one client, or all): the next request pays scrypt again."""
        for key in [k for k in self._cache if client_id in (None, k[0])]:
            del self._cache[key]

    async def authenticate_api_key(self, api_key: str) -> Identity | None:
        client_id, dot, secret = api_key.partition(".")
        if not dot or not client_id or not secret:
            return None
        return await self.authenticate(client_id, secret)


def identity_of(scope_or_state: Any) -> Identity | None:
    """The authenticated identity of a request (None when auth is off and no token was sent)."""
    state = getattr(scope_or_state, "state", None)
    found = getattr(state, "identity", None) if state is not None else None
    return found if isinstance(found, Identity) else None
