"""Sign-in sessions (table `user_sessions`) and the check every request makes.

A login opens a session: one row, one family of refresh tokens. The access token names the session
(`sid`); the refresh token names it and the *generation* of the one refresh token that is live.

`LiveCheck.current` runs on every request with a bearer token (gateway/auth/middleware.py): for a
person, one primary-key read of the session joined to the user's row (revoked, expired or disabled →
refused; the role, centre, department and display name come from the row, so a change takes effect at
once); for an API client, one primary-key read of its row (disabled or gone → refused). Nothing is
cached per replica: the shared database is the one place where revocation is written and read, so a
user disabled through any replica is refused on the very next request on all of them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.accounts.trail import record
from gateway.auth.clients import Identity
from gateway.tables import clients, user_sessions, users
from hub.db import Database


@dataclass(frozen=True)
class OpenedSession:
    session_id: str
    generation: int


def new_session_id() -> str:
    return secrets.token_hex(16)


async def open_session(session: AsyncSession, user_id: str, ttl_s: int, now: datetime) -> OpenedSession:
    opened = OpenedSession(new_session_id(), 0)
    await session.execute(
        user_sessions.insert().values(
            session_id=opened.session_id,
            user_id=user_id,
            generation=0,
            created_at=now,
            refreshed_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    return opened


async def revoke_session(
    db: Database,
    session_id: str,
    reason: str,
    *,
    audit_key: str | None = None,
    actor: tuple[str, str | None] = ("system", None),
) -> bool:
    """Revoke one session (logout, or a reused refresh token), recorded as `session.<reason>`; False
    when it was not live."""
    async with db.transaction() as session:
        result = await session.execute(
            update(user_sessions)
            .where(user_sessions.c.session_id == session_id, user_sessions.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC), revoked_reason=reason)
        )
        revoked = bool(getattr(result, "rowcount", 0))
        if revoked:
            await record(session, audit_key, f"session.{reason}", actor=actor, session_id=session_id)
    return revoked


async def revoke_user_sessions(session: AsyncSession, user_id: str, reason: str, now: datetime) -> None:
    """Revoke every live session of a user, inside the caller's transaction."""
    await session.execute(
        update(user_sessions)
        .where(user_sessions.c.user_id == user_id, user_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


class LiveCheck:
    """Is the principal behind a verified access token still allowed in? One primary-key read."""

    def __init__(self, db: Database, *, user_rate_limit_per_minute: int = 600) -> None:
        self.db = db
        self.user_rate_limit_per_minute = user_rate_limit_per_minute

    async def current(self, identity: Identity) -> Identity | None:
        """The identity to act as (for a person: as their row says now), or None when refused."""
        if identity.kind == "user":
            return await self._user(identity)
        if identity.kind == "client":
            return await self._client(identity)
        return identity  # "system": minted beside the hub with its secret; no stored principal

    async def _user(self, identity: Identity) -> Identity | None:
        query = (
            select(
                user_sessions.c.user_id,
                user_sessions.c.expires_at,
                user_sessions.c.revoked_at,
                users.c.role,
                users.c.centre,
                users.c.department,
                users.c.grid,
                users.c.display_name,
                users.c.disabled,
            )
            .join(users, users.c.user_id == user_sessions.c.user_id)
            .where(user_sessions.c.session_id == identity.session_id)
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if (
            row is None
            or row.user_id != identity.client_id
            or row.revoked_at is not None
            or row.disabled
            or row.expires_at <= datetime.now(UTC)
        ):
            return None
        return replace(
            identity,
            role=row.role,
            department=row.department,
            centre=row.centre,
            grid=row.grid,
            name=row.display_name,
            rate_limit_per_minute=self.user_rate_limit_per_minute,
        )

    async def _client(self, identity: Identity) -> Identity | None:
        query = select(clients.c.disabled).where(clients.c.client_id == identity.client_id)
        async with self.db.engine.connect() as conn:
            disabled = (await conn.execute(query)).scalar_one_or_none()
        return identity if disabled is False else None
