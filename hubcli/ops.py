"""`hub trace CASE_NO` and `hub stalled`: the ops views in the terminal (Rich tables).

Both call the gateway's public API with a local ops token (signed with HUB_TOKEN_SECRET, as a command
running beside the hub may), or with --token.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from gateway.settings import GatewaySettings
from hubcli.terminal import console

LEVEL_ZH = {"reminder": "提醒", "ordinary": "普通督办", "yellow_card": "黄牌督办", "red_card": "红牌督办"}
KIND_ZH = {
    "deadline": "超时限",
    "idle": "久未处理",
    "outbox": "消息未发出",
    "dead_letter": "死信",
    "adapter_delivery": "外部系统推送失败",
    "sms": "短信未送达",
}


def duration(ms: int | None) -> str:
    """3723000 → '1h02m03s'; days for long waits: '2d03h'."""
    if ms is None:
        return "—"
    seconds = ms // 1000
    if seconds < 60:
        return f"{ms / 1000:.1f}s" if ms < 10_000 else f"{seconds}s"
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    days, h = divmod(hours, 24)
    if days:
        return f"{days}d{h:02d}h"
    if hours:
        return f"{hours}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s"


def timeline_table(case_no: str, entries: list[dict[str, Any]]) -> Table:
    table = Table(title=f"事项 {case_no} 流转轨迹 (timeline)")
    for col in (
        "时间 at",
        "距上一步 wait",
        "服务 service",
        "事件 event",
        "操作方 actor",
        "detail",
        "trace id",
        "span id",
    ):
        table.add_column(col)
    for e in entries:
        actor = e.get("actor") or {}
        who = "/".join(str(actor[k]) for k in ("role", "department") if actor.get(k)) or actor.get(
            "service", ""
        )
        detail = ", ".join(f"{k}={v}" for k, v in (e.get("detail") or {}).items())
        trace = e.get("trace_id") or ""
        if e.get("linked_trace_id"):
            trace = f"{trace}\n↳ linked to {e['linked_trace_id']}"
        table.add_row(
            e["at"],
            duration(e.get("since_previous_ms")),
            e["service"],
            e["event"],
            who,
            detail,
            trace,
            e.get("span_id") or "",
        )
    return table


def stalled_table(items: list[dict[str, Any]], total: int) -> Table:
    table = Table(title=f"滞留事项 stalled ({len(items)} / {total})")
    for col in (
        "事项 case",
        "类型 kind",
        "环节 stage",
        "状态 state",
        "部门 department",
        "自 since",
        "超时 overdue",
        "督办 level",
        "色 colour",
        "街道 street",
        "最近一步 last handoff",
        "trace id",
    ):
        table.add_column(col)
    for i in items:
        last = i.get("last_handoff") or {}
        table.add_row(
            i["case_no"],
            KIND_ZH.get(i["kind"], i["kind"]),
            i.get("stage") or "",
            i.get("state") or "",
            i.get("department") or "",
            i["since"],
            duration(int(i.get("overdue_minutes") or 0) * 60_000),
            LEVEL_ZH.get(i.get("supervision_level") or "", i.get("supervision_level") or ""),
            i.get("colour") or "",
            i.get("street_code") or "",
            f"{last.get('service', '')} {last.get('event', '')} {last.get('at', '')}".strip(),
            i.get("trace_id") or "",
        )
    return table


def _client(settings: GatewaySettings, gateway: str | None, token: str | None) -> tuple[str, dict[str, str]]:
    from hubcli.clients import local_token

    base = gateway or f"http://{settings.host}:{settings.gateway_port}"
    return base, {"Authorization": f"Bearer {token or local_token(settings, role='ops')}"}


def _get(
    settings: GatewaySettings, gateway: str | None, token: str | None, path: str, params: Any = None
) -> Any:
    import httpx

    base, headers = _client(settings, gateway, token)
    try:
        response = httpx.get(f"{base}{path}", params=params, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        console().print(f"[red]无法连接网关 {base} ({type(exc).__name__})[/red]")
        raise typer.Exit(1) from None
    if response.status_code != 200:
        try:
            message = response.json().get("detail") or response.json().get("title")
        except ValueError:
            message = response.text
        console().print(f"[red]{message}[/red]")
        raise typer.Exit(1)
    return response.json()


Gateway = Annotated[str | None, typer.Option(help="Gateway base URL (default from settings)")]
Token = Annotated[
    str | None, typer.Option(envvar="HUB_API_TOKEN", help="Bearer token (default: a local ops token)")
]


def trace(
    settings: GatewaySettings, case_no: str, gateway: str | None = None, token: str | None = None
) -> None:
    entries = _get(settings, gateway, token, f"/api/v1/cases/{case_no}/timeline")
    console().print(timeline_table(case_no, entries))


def stalled(
    settings: GatewaySettings,
    *,
    department: str | None,
    colour: str | None,
    street: str | None,
    min_overdue_minutes: int | None,
    kind: str | None,
    as_json: bool,
    gateway: str | None,
    token: str | None,
) -> None:
    params = {
        k: v
        for k, v in (
            ("department", department),
            ("colour", colour),
            ("street", street),
            ("min_overdue_minutes", min_overdue_minutes),
            ("kind", kind),
        )
        if v is not None
    }
    body = _get(settings, gateway, token, "/api/v1/ops/stalled", params)
    if as_json:
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    console().print(stalled_table(body["items"], body["total"]))
    if body.get("unavailable"):
        console().print(f"[yellow]未响应的服务 (not answering): {', '.join(body['unavailable'])}[/yellow]")
