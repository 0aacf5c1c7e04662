"""The account store (table `users`): creating, disabling, enabling and resetting people's accounts,
and listing them. `hub users …` (hubcli/users.py) and the tests call these functions.

A user has a role (centre | department | ops | supervisor | grid_worker), belongs to a centre (its area
code, as in services/referral/data/centres.yaml: the gateway checks the shape only, 6 or 12 digits) and,
for role department, a department code; a grid worker (网格员) also a grid code (网格, as in
services/referral/data/grids.yaml) under their centre, which is then a community (12 digits). Disabling a user or resetting their password revokes their sessions at
once (gateway/accounts/sessions.py).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gateway.accounts.passwords import check_new_password, generate_password, hash_password
from gateway.accounts.sessions import revoke_user_sessions
from gateway.accounts.trail import CLI_ACTOR, record
from gateway.auth.clients import DEPARTMENT_CODE
from gateway.auth.roles import USER_ROLES
from gateway.tables import users
from hub.db import Database

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@\-]{1,63}$")
CENTRE_CODE = re.compile(r"^(\d{6}|\d{12})$")
GRID_CODE = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")  # as intake's location.grid_code
NAME_MAX = 50


class AccountError(ValueError):
    """A bad request about an account; the message is bilingual and safe to show."""


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    name: str
    role: str
    centre: str
    department: str | None
    disabled: bool
    grid: str | None = None  # role grid_worker: the grid's code

    def public(self) -> dict[str, Any]:
        """The user as `POST /api/v1/auth/login` and `GET /api/v1/auth/me` answer it."""
        return {
            "id": self.user_id,
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "centre": self.centre,
            "department": self.department,
            "grid": self.grid,
        }


@dataclass(frozen=True)
class NewUser:
    user: User
    password: str | None  # the generated password, shown once; None when the caller chose it


def user_of(row: Any) -> User:
    return User(
        row.user_id,
        row.username,
        row.display_name,
        row.role,
        row.centre,
        row.department,
        row.disabled,
        row.grid,
    )


def normalise_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).strip().lower()


def validate_user_fields(
    username: str, role: str, centre: str, department: str | None, name: str | None, grid: str | None = None
) -> None:
    if not USERNAME.match(normalise_username(username)):
        raise AccountError(
            "用户名为 2–64 个字母、数字或 . _ @ -，以字母或数字开头 "
            "(a username is 2–64 letters, digits, . _ @ -, starting with a letter or digit)"
        )
    if role not in USER_ROLES:
        raise AccountError(
            f"角色必须是 {' | '.join(USER_ROLES)} 之一 (role must be one of {', '.join(USER_ROLES)})"
        )
    if not CENTRE_CODE.match(centre):
        raise AccountError(
            "中心编码是 6 位或 12 位数字的行政区划代码 (the centre is a 6- or 12-digit area code)"
        )
    if role == "department":
        if not department or not DEPARTMENT_CODE.match(department):
            raise AccountError(
                "部门用户需要 --department 单位编码 (a department user needs --department CODE: "
                "letters, digits, . @ : - _)"
            )
    elif department:
        raise AccountError("--department 只用于 department 角色 (--department is only for role department)")
    if role == "grid_worker":
        if not grid or not GRID_CODE.match(grid):
            raise AccountError(
                "网格员需要 --grid 网格编码 (a grid worker needs --grid CODE: 1–64 letters, digits, . _ -)"
            )
        if len(centre) != 12:
            raise AccountError(
                "网格员的 --centre 是网格所在社区的 12 位编码 (a grid worker's centre is the grid's community)"
            )
    elif grid:
        raise AccountError("--grid 只用于 grid_worker 角色 (--grid is only for role grid_worker)")
    if name is not None:
        stripped = name.strip()
        if not stripped or len(stripped) > NAME_MAX:
            raise AccountError(f"显示名为 1–{NAME_MAX} 个字符 (the display name is 1–{NAME_MAX} characters)")
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Cn") for ch in stripped):
            raise AccountError("显示名不能含控制字符 (no control characters in the display name)")


async def create_user(
    db: Database,
    username: str,
    *,
    role: str,
    centre: str,
    department: str | None = None,
    name: str | None = None,
    password: str | None = None,
    audit_key: str | None = None,
    grid: str | None = None,
) -> NewUser:
    """Create an account. With no password one is generated and returned here once; only its argon2id
    hash is stored. With `audit_key` (HUB_HASH_KEY) the creation is recorded in the audit log."""
    validate_user_fields(username, role, centre, department, name, grid)
    chosen = password is not None
    if password is None:
        password = generate_password()
    check_new_password(password)
    login = normalise_username(username)
    now = datetime.now(UTC)
    user = User(uuid.uuid4().hex, login, (name or login).strip(), role, centre, department, False, grid)
    password_hash = await hash_password(password)
    try:
        async with db.transaction() as session:
            await session.execute(
                users.insert().values(
                    user_id=user.user_id,
                    username=user.username,
                    display_name=user.name,
                    role=role,
                    centre=centre,
                    department=department,
                    grid=grid,
                    password_hash=password_hash,
                    disabled=False,
                    failed_attempts=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            await record(
                session, audit_key, "account.created", actor=CLI_ACTOR,
                user_id=user.user_id, role=role, centre=centre, department=department, grid=grid,
            )  # fmt: skip
    except IntegrityError:
        raise AccountError(f"用户名 {login} 已存在 (username {login} is taken)") from None
    return NewUser(user, None if chosen else password)


async def find_user(db: Database, username: str) -> User | None:
    async with db.sessions() as session:
        row = (
            await session.execute(select(users).where(users.c.username == normalise_username(username)))
        ).first()
    return user_of(row) if row else None


async def get_user(db: Database, user_id: str) -> User | None:
    async with db.sessions() as session:
        row = (await session.execute(select(users).where(users.c.user_id == user_id))).first()
    return user_of(row) if row else None


async def list_users(db: Database) -> list[User]:
    async with db.sessions() as session:
        rows = await session.execute(select(users).order_by(users.c.created_at, users.c.username))
    return [user_of(r) for r in rows]


async def set_user_disabled(
    db: Database, username: str, disabled: bool = True, *, audit_key: str | None = None
) -> User | None:
    """Disable (its sessions are revoked in the same transaction: refused at once on every replica) or
    enable an account; None when there is no such user."""
    login = normalise_username(username)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        row = (await session.execute(select(users).where(users.c.username == login))).first()
        if row is None:
            return None
        values: dict[str, Any] = {"disabled": disabled, "updated_at": now}
        if not disabled:
            values.update(failed_attempts=0, locked_until=None)
        await session.execute(update(users).where(users.c.user_id == row.user_id).values(**values))
        if disabled:
            await revoke_user_sessions(session, row.user_id, "disabled", now)
        action = "account.disabled" if disabled else "account.enabled"
        await record(session, audit_key, action, actor=CLI_ACTOR, user_id=row.user_id)
    return User(
        row.user_id, row.username, row.display_name, row.role, row.centre, row.department, disabled, row.grid
    )


async def reset_password(
    db: Database, username: str, password: str | None = None, *, audit_key: str | None = None
) -> NewUser | None:
    """A new password (generated and returned once, unless given); every session of the user is revoked
    and a lockout lifted. None when there is no such user."""
    chosen = password is not None
    if password is None:
        password = generate_password()
    check_new_password(password)
    password_hash = await hash_password(password)
    login = normalise_username(username)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        row = (await session.execute(select(users).where(users.c.username == login))).first()
        if row is None:
            return None
        await session.execute(
            update(users)
            .where(users.c.user_id == row.user_id)
            .values(password_hash=password_hash, failed_attempts=0, locked_until=None, updated_at=now)
        )
        await revoke_user_sessions(session, row.user_id, "password_reset", now)
        await record(session, audit_key, "account.password_reset", actor=CLI_ACTOR, user_id=row.user_id)
    return NewUser(user_of(row), None if chosen else password)
