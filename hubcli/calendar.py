"""`hub calendar load FILE`: load a year's official holiday schedule (国务院办公厅节假日安排) into the
referral service, which keeps it in its database (every replica and every restart uses it), audits the
load and recomputes the deadlines it had to count on weekends only (each exactly once).

The file is checked here first (a malformed one changes nothing), then sent through the gateway
(`POST /api/v1/calendar/schedules`, the console's call) with a centre's bearer token: `--token` /
HUB_API_TOKEN, or on the hub's own machine a local centre token (signed with HUB_TOKEN_SECRET, which
that machine's gateway holds). The CLI never calls the referral service's port: that takes only the
gateway's internal credential. `hub calendar status` shows which years are covered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from gateway.settings import GatewaySettings
from hubcli.terminal import console, read_settings

app = typer.Typer(help="Working-day calendar: official holiday schedules.", no_args_is_help=True)

Gateway = Annotated[str | None, typer.Option(help="Gateway base URL (default from settings)")]
Token = Annotated[
    str | None, typer.Option(envvar="HUB_API_TOKEN", help="A centre's bearer token (default: a local one)")
]


def _call(method: str, path: str, gateway: str | None, token: str | None, **kwargs: Any) -> httpx.Response:
    from hubcli.clients import local_token

    settings = read_settings(GatewaySettings)
    base = gateway or f"http://{settings.host}:{settings.gateway_port}"
    headers = {"Authorization": f"Bearer {token or local_token(settings, role='centre')}"}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            return client.request(method, path, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        console().print(
            f"[red]the gateway at {base} is not reachable ({type(exc).__name__}); start the hub "
            "(`hub up`) or give --gateway[/red]"
        )
        raise typer.Exit(1) from None


@app.command()
def load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="YAML or JSON")],
    gateway: Gateway = None,
    token: Token = None,
) -> None:
    """Load one year's official schedule (holidays and make-up working days); audited."""
    from hub.datafile import DataFileError
    from services.referral.domain.calendar import parse_year_schedule

    text = file.read_text(encoding="utf-8")
    try:
        schedule = parse_year_schedule(text, source=file.name)
    except DataFileError as exc:
        console().print(f"[red]{file}: {exc}[/red]")
        raise typer.Exit(2) from None
    response = _call(
        "POST", "/api/v1/calendar/schedules", gateway, token, json={"text": text, "source": file.name}
    )
    if response.status_code != 200:
        console().print(f"[red]refused ({response.status_code}): {response.text}[/red]")
        raise typer.Exit(1)
    body = response.json()
    console().print(
        f"loaded {schedule.year} ({body['source']}): {body['holidays']} holiday(s), "
        f"{body['workdays']} make-up working day(s); {body['recomputed']} provisional deadline(s) recomputed"
    )


@app.command()
def status(gateway: Gateway = None, token: Token = None) -> None:
    """Which years the calendar covers (schedule, package, or weekends only) and provisional deadlines."""
    response = _call("GET", "/api/v1/calendar", gateway, token)
    if response.status_code != 200:
        console().print(f"[red]{response.status_code}: {response.text}[/red]")
        raise typer.Exit(1)
    body = response.json()
    for year in body["years"]:
        mark = "" if year["covered"] else "  [bold yellow]PROVISIONAL: weekends only[/bold yellow]"
        console().print(f"{year['year']}: {year['source']}{mark}")
    console().print(f"open provisional deadlines: {body['provisional_open_deadlines']}")
