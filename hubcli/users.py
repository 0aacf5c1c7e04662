"""`hub users create | list | disable | enable | reset`: named accounts (people) of the gateway.

`create` and `reset` take the password from standard input (`--password-stdin`, one line) or generate
one and print it once (only an argon2id hash is stored). `disable` and `reset` revoke the user's
sessions at once: their tokens are refused on the next request on every gateway replica. Like
`hub clients`, the commands write to the gateway's database, migrating it first. Errors are printed in
Chinese and English and end the command with exit code 2 (bad input) or 1 (no such user).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

import typer

from gateway.accounts.passwords import PasswordRejected
from gateway.accounts.store import (
    AccountError,
    NewUser,
    User,
    create_user,
    list_users,
    reset_password,
    set_user_disabled,
    validate_user_fields,
)
from hub.db import Database
from hubcli.clients import _settings, _with_gateway_db
from hubcli.terminal import console

app = typer.Typer(
    help="Named accounts: people who sign in to the console (not API clients).", no_args_is_help=True
)

KEEP_IT = "保存好密码：它只显示这一次。 (Keep the password: it is shown only this once.)"


def _refuse(message: str, code: int = 2) -> typer.Exit:
    console().print(f"[red]{message}[/red]")
    return typer.Exit(code)


def _stdin_password() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise _refuse("标准输入中没有密码 (no password on standard input)")
    return password


def _no_user(username: str) -> typer.Exit:
    return _refuse(f"没有用户 {username} (no user {username})", 1)


@app.command()
def create(
    username: Annotated[
        str, typer.Argument(help="Login name: 2–64 letters, digits, . _ @ - (case-insensitive)")
    ],
    role: Annotated[str, typer.Option(help="centre | department | ops | supervisor | grid_worker")],
    centre: Annotated[str, typer.Option(help="The centre's area code, 6 or 12 digits (centres.yaml)")],
    department: Annotated[
        str | None, typer.Option(help="Department code (role department), e.g. housing@150203")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name (显示名), default the username")] = None,
    grid: Annotated[
        str | None,
        typer.Option(help="Grid code (role grid_worker; grids.yaml), its community as --centre"),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (one line)")
    ] = False,
) -> None:
    """Create a person's account; print the generated password once (unless --password-stdin)."""
    try:
        validate_user_fields(username, role, centre, department, name, grid)
    except AccountError as exc:
        raise _refuse(str(exc)) from None
    password = _stdin_password() if password_stdin else None
    settings = _settings()

    async def work(db: Database) -> NewUser:
        return await create_user(
            db,
            username,
            role=role,
            centre=centre,
            department=department,
            name=name,
            password=password,
            audit_key=settings.hash_key,
            grid=grid,
        )

    try:
        new = asyncio.run(_with_gateway_db(settings, work))
    except (AccountError, PasswordRejected) as exc:
        raise _refuse(str(exc)) from None
    user = new.user
    typer.echo(f"user_id: {user.user_id}")
    typer.echo(f"username: {user.username}")
    if new.password is not None:
        typer.echo(f"password: {new.password}")
        typer.echo(KEEP_IT, err=True)
    typer.echo(
        f"role: {user.role}  centre: {user.centre}"
        + (f"  department: {user.department}" if user.department else "")
        + (f"  grid: {user.grid}" if user.grid else "")
    )


@app.command("list")
def list_accounts() -> None:
    """List accounts, one tab-separated line each (never a password or hash)."""
    found = asyncio.run(_with_gateway_db(_settings(), list_users))
    typer.echo("user_id\tusername\tname\trole\tcentre\tdepartment\tdisabled\tgrid")
    for u in found:
        fields = (u.user_id, u.username, u.name, u.role, u.centre, u.department or "-")
        typer.echo("\t".join((*fields, "yes" if u.disabled else "no", u.grid or "-")))


def _set_disabled(username: str, disabled: bool) -> None:
    settings = _settings()

    async def work(db: Database) -> User | None:
        return await set_user_disabled(db, username, disabled, audit_key=settings.hash_key)

    found = asyncio.run(_with_gateway_db(settings, work))
    if found is None:
        raise _no_user(username)
    what = "已停用，会话已撤销 (disabled; sessions revoked)" if disabled else "已启用 (enabled)"
    console().print(f"{found.username} {what}")


@app.command()
def disable(username: str) -> None:
    """Disable an account: its tokens are refused from the next request on, on every replica."""
    _set_disabled(username, True)


@app.command()
def enable(username: str) -> None:
    """Enable a disabled account again (and lift a lockout); the person signs in anew."""
    _set_disabled(username, False)


@app.command()
def reset(
    username: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input")
    ] = False,
) -> None:
    """Give an account a new password (printed once unless --password-stdin); revokes its sessions."""
    password = _stdin_password() if password_stdin else None
    settings = _settings()

    async def work(db: Database) -> NewUser | None:
        return await reset_password(db, username, password, audit_key=settings.hash_key)

    try:
        new = asyncio.run(_with_gateway_db(settings, work))
    except PasswordRejected as exc:
        raise _refuse(str(exc)) from None
    if new is None:
        raise _no_user(username)
    if new.password is not None:
        typer.echo(f"password: {new.password}")
        typer.echo(KEEP_IT, err=True)
    console().print(f"{new.user.username}: 密码已重置，会话已撤销 (password reset; sessions revoked)")
