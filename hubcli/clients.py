"""`hub clients create | list | disable | enable`: API clients of the gateway (OAuth2 client credentials).

`create` prints the new client's id and secret once (only a hash is stored); an adapter client of
system `open311` also gets its Open311 `api_key`. The commands write to the gateway's database,
migrating it first. `local_token` signs a token directly with HUB_TOKEN_SECRET, for commands run on
the hub's own machine (which holds that secret anyway) that call the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import select

from gateway.settings import GatewaySettings
from hub.db import Database, create_engine_for
from hubcli.terminal import console, read_settings

app = typer.Typer(help="API clients of the gateway (OAuth2 client credentials).", no_args_is_help=True)


T = TypeVar("T")


def _settings() -> GatewaySettings:
    return read_settings(GatewaySettings)


async def _with_gateway_db(settings: GatewaySettings, work: Callable[[Database], Awaitable[T]]) -> T:
    from gateway.migrations import migrate

    await asyncio.to_thread(migrate, settings)
    db = Database(create_engine_for(settings, "gateway"))
    try:
        return await work(db)
    finally:
        await db.dispose()


@app.command()
def create(
    role: Annotated[str, typer.Option(help="centre | department | adapter | ops")],
    department: Annotated[
        str | None, typer.Option(help="Department code (role department), e.g. community@150203001000")
    ] = None,
    system: Annotated[
        str | None,
        typer.Option(
            help="External system (role adapter): hotline12345 | police110 | court | "
            "procuratorate12309 | open311 | kiosk"
        ),
    ] = None,
    rate_limit: Annotated[int, typer.Option(min=1, help="Requests per minute")] = 600,
) -> None:
    """Create a client and print its id and secret (shown this once only)."""
    from gateway.auth import create_client, validate_client_fields

    try:
        validate_client_fields(role, department, system)
    except ValueError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    settings = _settings()
    new = asyncio.run(
        _with_gateway_db(
            settings,
            lambda db: create_client(
                db, role, department=department, system=system, rate_limit_per_minute=rate_limit
            ),
        )
    )
    # Plain lines, one value each, so scripts can read them; the secret is not stored anywhere.
    typer.echo(f"client_id: {new.client_id}")
    typer.echo(f"client_secret: {new.secret}")
    if system == "open311":
        typer.echo(f"open311_api_key: {new.api_key}")
    typer.echo(
        f"role: {new.role}"
        + (f"  department: {new.department}" if new.department else "")
        + (f"  system: {new.system}" if new.system else "")
        + f"  rate_limit_per_minute: {new.rate_limit_per_minute}"
    )
    typer.echo("保存好密钥：它只显示这一次。 (Keep the secret: it is shown only this once.)", err=True)


@app.command("list")
def list_clients() -> None:
    """List clients (never their secrets)."""
    from gateway.tables import clients

    async def rows(db: Database) -> list[Any]:
        async with db.sessions() as session:
            return list(await session.execute(select(clients).order_by(clients.c.created_at)))

    found = asyncio.run(_with_gateway_db(_settings(), rows))
    # One line per client, tab-separated, never cut to the terminal's width.
    typer.echo("client_id\trole\tdepartment\tsystem\trate_limit_per_minute\tcreated_at\tdisabled")
    for r in found:
        fields = (r.client_id, r.role, r.department or "-", r.system or "-", r.rate_limit_per_minute)
        created = r.created_at.isoformat(timespec="seconds")
        typer.echo("\t".join(str(f) for f in (*fields, created, "yes" if r.disabled else "no")))


def _set_disabled(client_id: str, disabled: bool) -> None:
    from gateway.auth import set_disabled

    found = asyncio.run(_with_gateway_db(_settings(), lambda db: set_disabled(db, client_id, disabled)))
    if not found:
        console().print(f"[red]no client {client_id}[/red]")
        raise typer.Exit(1)
    console().print(f"{client_id} {'disabled' if disabled else 'enabled'}")


@app.command()
def disable(client_id: str) -> None:
    """Disable a client: no new tokens, and the tokens it holds are refused from the next request on."""
    _set_disabled(client_id, True)


@app.command()
def enable(client_id: str) -> None:
    """Enable a disabled client again."""
    _set_disabled(client_id, False)


def local_token(settings: GatewaySettings, role: str = "ops", client_id: str = "local-cli") -> str:
    """A bearer token for a command running beside the hub (it holds HUB_TOKEN_SECRET already)."""
    from gateway.auth import Identity, TokenIssuer

    if role in ("department", "adapter"):
        raise ValueError("local tokens are for centre or ops commands")
    # Kind "system": it names no stored client, so the per-request check (disabled?) does not apply.
    return TokenIssuer(settings.token_secret).issue(Identity(client_id, role, kind="system"))
