"""`hub setup postgres-roles | rabbitmq-users`: least-privilege credentials for each process, made
once by an operator holding the administrator's credentials (deploy/README.md, decision 0014).

Both are idempotent: run them again after an upgrade or to rotate one password (set its variable,
or `--rotate` for new generated ones). A password generated or set is printed once, with the setting
that carries it; nothing is stored by the hub.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from hub.config import SERVICES, ServiceName
from hubcli.terminal import console

app = typer.Typer(
    help="Least-privilege credentials for each process (run once by an operator).", no_args_is_help=True
)


def _services(names: list[str] | None) -> tuple[ServiceName, ...]:
    chosen = tuple(names or SERVICES)
    unknown = sorted(set(chosen) - set(SERVICES))
    if unknown:
        console().print(f"[red]unknown service(s) {unknown}; choose from {', '.join(SERVICES)}[/red]")
        raise typer.Exit(2)
    return chosen  # type: ignore[return-value]


@app.command("postgres-roles")
def postgres_roles(
    admin_url: Annotated[
        str,
        typer.Option(
            envvar="PG_ADMIN_URL", help="Administrator's URL of the hub's database (postgresql://…/hub)"
        ),
    ],
    service: Annotated[list[str] | None, typer.Option(help="Only this service (repeatable)")] = None,
    prefix: Annotated[str, typer.Option(help="Role names are PREFIX<service>")] = "hub_",
    rotate: Annotated[bool, typer.Option(help="Give existing roles new generated passwords")] = False,
) -> None:
    """One login role per process owning its schema and nothing else (passwords: PG_PASSWORD_<ROLE>
    or generated and shown once)."""
    from hubcli.pg_roles import ensure_roles, password_variable, service_url

    outcomes = asyncio.run(ensure_roles(admin_url, services=_services(service), prefix=prefix, rotate=rotate))
    out = console()
    for o in outcomes:
        out.print(f"{o.role}: {', '.join(o.changes) or 'unchanged'}")
        if o.password is not None:
            source = "given" if o.password == _env(password_variable(o.role)) else "generated, shown once"
            out.print(
                f"  HUB_{o.service.upper()}_DATABASE_URL={service_url(admin_url, o.role, o.password)}  ({source})",
                soft_wrap=True,
            )


@app.command("rabbitmq-users")
def rabbitmq_users(
    management_url: Annotated[
        str, typer.Option(envvar="RABBITMQ_MANAGEMENT_URL", help="Management API, e.g. http://rabbitmq:15672")
    ],
    admin_user: Annotated[
        str, typer.Option(envvar="RABBITMQ_ADMIN_USER", help="An administrator of the broker")
    ],
    admin_password: Annotated[
        str, typer.Option(envvar="RABBITMQ_ADMIN_PASSWORD", prompt=True, hide_input=True)
    ],
    vhost: Annotated[str, typer.Option(help="The hub's virtual host")] = "/",
    service: Annotated[list[str] | None, typer.Option(help="Only this service (repeatable)")] = None,
    prefix: Annotated[str, typer.Option(help="User names are PREFIX<service>")] = "hub_",
    rotate: Annotated[bool, typer.Option(help="Give existing users new generated passwords")] = False,
) -> None:
    """One broker user per process limited to its own queues and the events it publishes (passwords:
    AMQP_PASSWORD_<USER> or generated and shown once)."""
    from hubcli.broker_users import ensure_users, password_variable

    outcomes = asyncio.run(
        ensure_users(
            management_url,
            (admin_user, admin_password),
            vhost=vhost,
            services=_services(service),
            prefix=prefix,
            rotate=rotate,
        )
    )
    out = console()
    for o in outcomes:
        out.print(f"{o.user}: {', '.join(o.changes) or 'unchanged'}")
        if o.password is not None:
            source = "given" if o.password == _env(password_variable(o.user)) else "generated, shown once"
            out.print(f"  username={o.user} password={o.password}  ({source})", soft_wrap=True)


def _env(name: str) -> str | None:
    import os

    return os.environ.get(name)
