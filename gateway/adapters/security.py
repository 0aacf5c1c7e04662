"""Inbound webhook authentication: `X-Hub-Timestamp` + `X-Hub-Signature: sha256=<hex HMAC(secret,
timestamp + "." + body)>`, at most `adapter_signature_tolerance_s` (5 minutes) from our clock, and never
the same signature twice.

The signature itself is the nonce: it covers the timestamp and the exact body, so a replay (same
request again) carries the same one. Accepted signatures are kept in the gateway database until
they could no longer pass the timestamp check. A request that fails here has written nothing.

The format is the one notification uses for its outgoing webhooks (services/notification/domain/
signing.py); it is repeated here because services never import each other's code.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request
from sqlalchemy import delete

from gateway.settings import GatewaySettings
from gateway.tables import adapter_nonces
from hub.config import Environment
from hub.db import Database
from hub.problems import Problem
from hub.upsert import upsert

log = logging.getLogger("hub.gateway.adapters")

TIMESTAMP = "X-Hub-Timestamp"
SIGNATURE = "X-Hub-Signature"


class SignatureRefused(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # malformed | mismatch | stale | replayed | unconfigured


def sign(secret: str, timestamp: str, body: bytes, algorithm: str = "sha256") -> str:
    """The `X-Hub-Signature` value for `body` sent at `timestamp` (unix seconds as text)."""
    if not secret:
        raise ValueError("an empty signing secret is never acceptable")
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, algorithm).hexdigest()
    return f"{algorithm}={mac}"


def signed_headers(
    secret: str, body: bytes, now: datetime | None = None, algorithm: str = "sha256"
) -> dict[str, str]:
    """Headers a system (or its simulator) sends with a push to the hub."""
    timestamp = str(int((now or datetime.now(UTC)).timestamp()))
    return {
        TIMESTAMP: timestamp,
        SIGNATURE: sign(secret, timestamp, body, algorithm),
        "Content-Type": "application/json; charset=utf-8",
    }


def check_signature(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: datetime,
    *,
    tolerance: timedelta,
    algorithm: str = "sha256",
) -> str:
    """Raise SignatureRefused unless authentic and fresh; return the nonce to record (the MAC)."""
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise SignatureRefused("malformed", f"{TIMESTAMP} must be unix seconds")
    prefix, _, provided = (signature or "").partition("=")
    provided = provided.strip().lower()
    if prefix != algorithm or not provided:
        raise SignatureRefused("malformed", f"{SIGNATURE} must look like {algorithm}=<hex>")
    expected = sign(secret, timestamp, body, algorithm).partition("=")[2]
    if not hmac.compare_digest(expected.encode(), provided.encode()):
        raise SignatureRefused("mismatch", f"{SIGNATURE} does not match the request")
    if abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        raise SignatureRefused("stale", f"{TIMESTAMP} is outside the accepted window")
    return hashlib.sha256(expected.encode()).hexdigest()


@dataclass(frozen=True)
class Signed:
    system: str
    body: bytes
    nonce: str


def webhook_secret(settings: GatewaySettings, system: str) -> str:
    secret: str = getattr(settings, f"{system}_webhook_secret")
    return secret


async def verify_request(request: Request, system: str) -> Signed:
    """Authenticate a push from `system` and claim its nonce; 401 problem details otherwise."""
    settings: GatewaySettings = request.app.state.runtime.settings
    db: Database = request.app.state.runtime.db
    body = await request.body()
    secret = webhook_secret(settings, system)
    try:
        if settings.env is Environment.prod and secret.startswith("dev-"):
            raise SignatureRefused("unconfigured", f"HUB_{system.upper()}_WEBHOOK_SECRET is not set")
        nonce = check_signature(
            secret,
            request.headers.get(TIMESTAMP),
            request.headers.get(SIGNATURE),
            body,
            datetime.now(UTC),
            tolerance=timedelta(seconds=settings.adapter_signature_tolerance_s),
            algorithm=settings.adapter_signature_algorithm,
        )
        expires = datetime.now(UTC) + 2 * timedelta(seconds=settings.adapter_signature_tolerance_s)
        if not await claim_nonce(db, system, nonce, expires):
            raise SignatureRefused("replayed", "this signed request was already received")
    except SignatureRefused as exc:
        log.warning("adapter %s: push refused (%s)", system, exc.reason)
        raise Problem(
            401,
            "签名校验失败",
            str(exc),
            type_="adapter-signature",
            reason=exc.reason,
        ) from None
    return Signed(system, body, nonce)


async def claim_nonce(db: Database, system: str, nonce: str, expires_at: datetime) -> bool:
    """Record the nonce; False if it was already there (one statement, safe across replicas)."""
    async with db.transaction() as session:
        stmt = upsert(
            session,
            adapter_nonces,
            ["system", "nonce"],
            {"system": system, "nonce": nonce, "expires_at": expires_at},
        ).returning(adapter_nonces.c.nonce)
        return (await session.execute(stmt)).first() is not None


async def release_nonce(db: Database, system: str, nonce: str) -> None:
    """The push was authentic but could not be handled now (a service away): let the system retry it."""
    async with db.transaction() as session:
        await session.execute(
            delete(adapter_nonces).where(adapter_nonces.c.system == system, adapter_nonces.c.nonce == nonce)
        )


async def purge_nonces(db: Database, now: datetime | None = None) -> int:
    async with db.transaction() as session:
        result = await session.execute(
            delete(adapter_nonces).where(adapter_nonces.c.expires_at < (now or datetime.now(UTC)))
        )
        return int(getattr(result, "rowcount", 0) or 0)


@asynccontextmanager
async def released_on_failure(db: Database, signed: Signed) -> AsyncIterator[None]:
    """If handling fails on our side (a service away, 5xx), forget the nonce so the system may resend
    the very same request; a refusal of its content (4xx) keeps it: a replay stays a replay."""
    try:
        yield
    except Problem as problem:
        if problem.status >= 500:
            await release_nonce(db, signed.system, signed.nonce)
        raise
    except Exception:
        await release_nonce(db, signed.system, signed.nonce)
        raise
