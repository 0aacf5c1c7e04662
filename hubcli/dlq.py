"""`hub dlq list|show|replay|resolve`: dead letters in the terminal (issue 16), through the gateway's
/api/v1/ops/dead-letters (the console's calls) with an ops bearer token: `--token` / HUB_API_TOKEN, or
on the hub's own machine a local ops token (signed with HUB_TOKEN_SECRET).

Replay publishes the same event (same id: the consumer's inbox absorbs a duplicate) with its retry
count reset; resolve marks it handled without replaying. Both record who and why (`--reason`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from gateway.settings import GatewaySettings
from hubcli.terminal import console, read_settings

app = typer.Typer(help="Dead letters: list, show, replay, resolve.", no_args_is_help=True)

PATH = "/api/v1/ops/dead-letters"
STATUS_ZH = {"open": "待处理", "replaying": "重放中", "resolved": "已处理"}
RESOLUTION_ZH = {"replayed": "已重放", "dismissed": "已标记处理"}

Gateway = Annotated[str | None, typer.Option(help="Gateway base URL (default from settings)")]
Token = Annotated[
    str | None, typer.Option(envvar="HUB_API_TOKEN", help="An ops bearer token (default: a local one)")
]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded with who did it; 2–500 characters)")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON")]


def _call(method: str, path: str, gateway: str | None, token: str | None, **kwargs: Any) -> Any:
    from hubcli.clients import local_token

    settings = read_settings(GatewaySettings)
    base = gateway or f"http://{settings.host}:{settings.gateway_port}"
    headers = {"Authorization": f"Bearer {token or local_token(settings, role='ops')}"}
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            response = client.request(method, path, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        console().print(f"[red]the gateway at {base} is not reachable ({type(exc).__name__})[/red]")
        raise typer.Exit(1) from None
    if response.status_code >= 400:
        try:
            body = response.json()
            message = body.get("detail") or body.get("title")
        except ValueError:
            message = response.text
        console().print(f"[red]{response.status_code}: {message}[/red]")
        raise typer.Exit(1 if response.status_code != 404 else 4)
    return response.json()


def dead_letters_table(items: list[dict[str, Any]], total: int) -> Table:
    table = Table(title=f"死信 dead letters ({len(items)} / {total})")
    for col in (
        "id",
        "queue",
        "event type",
        "event id",
        "case",
        "reason",
        "attempts",
        "deaths",
        "first dead",
        "last dead",
        "status",
    ):
        table.add_column(col, overflow="fold")
    for i in items:
        status = STATUS_ZH.get(i["status"], i["status"])
        if i.get("resolution"):
            status += f" ({RESOLUTION_ZH.get(i['resolution'], i['resolution'])})"
        table.add_row(
            i["id"],
            i["queue"],
            i.get("event_type") or "",
            i["event_id"],
            i.get("case_no") or "",
            i["reason"],
            str(i["attempts"]),
            str(i["deaths"]),
            i["first_dead_at"],
            i["last_dead_at"],
            status,
        )
    return table


def _print_one(item: dict[str, Any]) -> None:
    console().print(dead_letters_table([item], 1))
    if item.get("resolved_by"):
        console().print(f"by {item['resolved_by']}: {item.get('resolve_reason') or ''}")
    for entry in item.get("history") or []:
        who = f" {entry['by']}" if entry.get("by") else ""
        console().print(f"  {entry['at']}  {entry['action']}{who}: {entry.get('reason') or ''}")


@app.command("list")
def list_(
    queue: Annotated[
        str | None, typer.Option(help="Only this consumer queue, e.g. referral.case-events")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Dead-lettered at or after (ISO 8601; UTC if no offset)")
    ] = None,
    status: Annotated[str, typer.Option(help="open | replaying | resolved | all")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 200,
    as_json: AsJson = False,
    gateway: Gateway = None,
    token: Token = None,
) -> None:
    """Dead letters, newest first (open ones by default)."""
    from datetime import UTC

    params: dict[str, Any] = {"status": status, "limit": limit}
    if queue:
        params["queue"] = queue
    if since:
        params["since"] = (since if since.tzinfo else since.replace(tzinfo=UTC)).isoformat()
    body = _call("GET", PATH, gateway, token, params=params)
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    console().print(dead_letters_table(body["items"], body["total"]))
    if body.get("unavailable"):
        console().print(f"[yellow]not answering: {', '.join(body['unavailable'])}[/yellow]")


@app.command()
def show(dead_letter_id: str, as_json: AsJson = False, gateway: Gateway = None, token: Token = None) -> None:
    """One dead letter with its history (who replayed or resolved it, and why)."""
    body = _call("GET", f"{PATH}/{dead_letter_id}", gateway, token)
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    _print_one(body)


@app.command()
def replay(
    dead_letter_id: str, reason: Reason, as_json: AsJson = False, gateway: Gateway = None, token: Token = None
) -> None:
    """Replay: the same event id into its queue, with a full set of attempts."""
    body = _call("POST", f"{PATH}/{dead_letter_id}/replay", gateway, token, json={"reason": reason})
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    console().print(f"replayed {body['id']} ({body['event_type']} {body['event_id']})")
    _print_one(body)


@app.command()
def resolve(
    dead_letter_id: str, reason: Reason, as_json: AsJson = False, gateway: Gateway = None, token: Token = None
) -> None:
    """Mark it handled without replaying."""
    body = _call("POST", f"{PATH}/{dead_letter_id}/resolve", gateway, token, json={"reason": reason})
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    console().print(f"resolved {body['id']} without replay")
    _print_one(body)
