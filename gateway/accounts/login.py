"""Signing in, refreshing and signing out: the rules, apart from HTTP (gateway/routes/accounts.py).

- **Login.** A wrong username, a wrong password and a disabled account get the same answer
  (`LoginRefused`), after the same argon2 work. After `max_failures` failed logins in a row an
  account is locked for `lockout_minutes` (`AccountLocked`, even with the right password); a
  success resets the count. Usernames that do not exist are "locked" the same way, in this process's
  memory, so the lockout answer does not tell which usernames exist.
- **Refresh** (rotation). The refresh token names its session and generation; only the current
  generation is accepted, and it is moved on atomically (one UPDATE … WHERE generation = n), so a
  refresh token works once. Presenting an older one again means it was copied: the whole session
  (every access and refresh token of that sign-in) is revoked (`reason = refresh_reuse`).
- **Logout** revokes the session; its access token is refused on the next request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import case, select, update

from gateway.accounts.passwords import hash_password, needs_rehash, verify_password
from gateway.accounts.sessions import open_session, revoke_session
from gateway.accounts.store import User, normalise_username, user_of
from gateway.accounts.trail import record
from gateway.auth.clients import Identity
from gateway.auth.tokens import RefreshClaims, TokenError, TokenIssuer
from gateway.tables import user_sessions, users
from hub.db import Database


class LoginRefused(Exception):
    """Wrong username or password (or a disabled account): one answer for all three."""


class AccountLocked(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__("locked")
        self.retry_after_s = max(1, retry_after_s)


class RefreshRefused(Exception):
    """The refresh token is invalid, expired, used up or its session revoked (detail says which)."""


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: User


@dataclass(frozen=True)
class Policy:
    access_ttl_s: int = 600
    refresh_ttl_s: int = 43200
    max_failures: int = 5
    lockout_minutes: int = 15
    rate_limit_per_minute: int = 600


class _UnknownNames:
    """Failed logins of usernames that do not exist, per process: they lock like real accounts."""

    def __init__(self) -> None:
        self._failures: dict[str, tuple[int, float]] = {}  # username → (failures, locked until)

    def locked_for(self, username: str) -> int:
        _, until = self._failures.get(username, (0, 0.0))
        return int(until - time.monotonic()) + 1 if until > time.monotonic() else 0

    def failed(self, username: str, policy: Policy) -> None:
        if len(self._failures) > 10_000:
            self._failures.clear()
        count = self._failures.get(username, (0, 0.0))[0] + 1
        if count >= policy.max_failures:
            self._failures[username] = (0, time.monotonic() + policy.lockout_minutes * 60)
        else:
            self._failures[username] = (count, 0.0)


class Accounts:
    """Login, refresh and logout against the gateway's database."""

    def __init__(
        self, db: Database, issuer: TokenIssuer, policy: Policy, *, audit_key: str | None = None
    ) -> None:
        self.db = db
        self.issuer = issuer
        self.policy = policy
        self.audit_key = audit_key  # HUB_HASH_KEY: every sign-in, failure and sign-out is audited
        self._unknown = _UnknownNames()

    async def login(self, username: str, password: str, *, address: str | None = None) -> Tokens:
        login = normalise_username(username)
        async with self.db.sessions() as session:
            row = (await session.execute(select(users).where(users.c.username == login))).first()
        now = datetime.now(UTC)
        if row is None:
            if locked := self._unknown.locked_for(login):
                raise AccountLocked(locked)
            await verify_password(None, password)  # the same work as a real check
            self._unknown.failed(login, self.policy)
            # No username in the entry: a password typed into the wrong field must not be kept.
            await self._audit(
                "account.login_failed", ("anonymous", None), reason="unknown_user", address=address
            )
            raise LoginRefused
        actor = (row.role, row.user_id)
        if row.locked_until is not None and row.locked_until > now:
            await self._audit("account.login_failed", actor, reason="locked", address=address)
            raise AccountLocked(int((row.locked_until - now).total_seconds()) + 1)
        if not await verify_password(row.password_hash, password):
            await self._failed(row, now, address)
            raise LoginRefused
        if row.disabled:
            await self._audit("account.login_failed", actor, reason="disabled", address=address)
            raise LoginRefused
        return await self._open(row, password, address=address)

    async def _audit(self, action: str, actor: tuple[str, str | None], **detail: object) -> None:
        if self.audit_key is None:
            return
        async with self.db.transaction() as session:
            await record(session, self.audit_key, action, actor=actor, **detail)

    async def sign_in(self, username: str, *, address: str | None = None) -> Tokens:
        """A sign-in an identity provider vouched for (OIDC): the account must exist and be enabled."""
        async with self.db.sessions() as session:
            row = (
                await session.execute(select(users).where(users.c.username == normalise_username(username)))
            ).first()
        if row is None or row.disabled:
            actor = (row.role, row.user_id) if row is not None else ("anonymous", None)
            await self._audit("account.login_failed", actor, reason="oidc_no_account", address=address)
            raise LoginRefused
        return await self._open(row, None, address=address)

    async def _open(self, row: Any, password: str | None, *, address: str | None) -> Tokens:
        user = user_of(row)
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            if password is not None:  # a password login: the failures are over (OIDC leaves them)
                values: dict[str, object] = {"failed_attempts": 0, "locked_until": None}
                if needs_rehash(row.password_hash):
                    values["password_hash"] = await hash_password(password)
                await session.execute(update(users).where(users.c.user_id == user.user_id).values(**values))
            opened = await open_session(session, user.user_id, self.policy.refresh_ttl_s, now)
            await record(
                session, self.audit_key, "account.login", actor=(user.role, user.user_id),
                method="password" if password is not None else "oidc",
                session_id=opened.session_id, address=address,
            )  # fmt: skip
        return self._tokens(user, opened.session_id, opened.generation)

    async def _failed(self, row: Any, now: datetime, address: str | None) -> None:
        """Count a failure atomically; the `max_failures`-th locks the account (and starts a new count)."""
        reaches = users.c.failed_attempts + 1 >= self.policy.max_failures
        until = now + timedelta(minutes=self.policy.lockout_minutes)
        async with self.db.transaction() as session:
            await session.execute(
                update(users)
                .where(users.c.user_id == row.user_id)
                .values(
                    failed_attempts=case((reaches, 0), else_=users.c.failed_attempts + 1),
                    locked_until=case((reaches, until), else_=users.c.locked_until),
                )
            )
            locks = row.failed_attempts + 1 >= self.policy.max_failures  # as read before: for the record
            await record(
                session, self.audit_key, "account.login_failed", actor=(row.role, row.user_id),
                reason="password", locks=locks, address=address,
            )  # fmt: skip

    async def refresh(self, refresh_token: str) -> Tokens:
        try:
            claims = self.issuer.verify_refresh(refresh_token)
        except TokenError as exc:
            raise RefreshRefused(str(exc)) from None
        now = datetime.now(UTC)
        live = user_sessions.c.revoked_at.is_(None) & (user_sessions.c.expires_at > now)
        async with self.db.transaction() as session:
            moved = await session.execute(
                update(user_sessions)
                .where(
                    user_sessions.c.session_id == claims.session_id,
                    user_sessions.c.user_id == claims.user_id,
                    user_sessions.c.generation == claims.generation,
                    live,
                )
                .values(
                    generation=claims.generation + 1,
                    refreshed_at=now,
                    expires_at=now + timedelta(seconds=self.policy.refresh_ttl_s),
                )
            )
            row = (await session.execute(select(users).where(users.c.user_id == claims.user_id))).first()
        if getattr(moved, "rowcount", 0) == 1 and row is not None and not row.disabled:
            return self._tokens(user_of(row), claims.session_id, claims.generation + 1)
        await self._refused(claims)

    async def _refused(self, claims: RefreshClaims) -> NoReturn:
        async with self.db.sessions() as session:
            found = (
                await session.execute(
                    select(user_sessions).where(user_sessions.c.session_id == claims.session_id)
                )
            ).first()
        if found is None or found.user_id != claims.user_id:
            raise RefreshRefused("令牌无效 (invalid token)")
        if found.revoked_at is not None:
            raise RefreshRefused("会话已结束，请重新登录 (session ended: sign in again)")
        if found.generation > claims.generation:
            # An older refresh token came back: someone holds a copy. End the whole sign-in.
            await revoke_session(
                self.db,
                claims.session_id,
                "refresh_reuse",
                audit_key=self.audit_key,
                actor=("user", claims.user_id),
            )
            raise RefreshRefused(
                "刷新令牌已被使用，会话已撤销，请重新登录 (refresh token reused: session revoked)"
            )
        raise RefreshRefused("会话已过期或账号已停用，请重新登录 (session expired or account disabled)")

    async def logout(self, identity: Identity) -> bool:
        if identity.kind != "user" or identity.session_id is None:
            return False
        actor = (identity.role, identity.client_id)
        return await revoke_session(
            self.db, identity.session_id, "logout", audit_key=self.audit_key, actor=actor
        )

    def _tokens(self, user: User, session_id: str, generation: int) -> Tokens:
        identity = Identity(
            user.user_id,
            user.role,
            user.department,
            None,
            self.policy.rate_limit_per_minute,
            kind="user",
            centre=user.centre,
            session_id=session_id,
        )
        access = self.issuer.issue(identity, ttl_s=self.policy.access_ttl_s)
        refresh = self.issuer.issue_refresh(
            RefreshClaims(user.user_id, session_id, generation), self.policy.refresh_ttl_s
        )
        return Tokens(access, refresh, self.policy.access_ttl_s, self.policy.refresh_ttl_s, user)
