"""The case endpoints the gateway serves itself (API.md "Cases"): a case as intake and referral
know it together, and its timeline from the gateway's own projection. Rows in gateway/routes/table.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel

from gateway.principals import principal_of
from gateway.timeline import case_timeline, with_gaps, with_names
from gateway.upstream import PassThrough, Upstream
from hub.problems import Problem
from hub.runtime import ServiceRuntime


class TimelineEntry(BaseModel):
    at: datetime
    service: str
    event: str
    actor: dict[str, Any]
    detail: dict[str, Any]
    trace_id: str | None
    span_id: str | None
    since_previous_ms: int | None = None  # the wait since the previous handoff (None for the first)
    linked_trace_id: str | None = None  # a handoff in its own trace (a deadline firing): the case's trace


def _upstream(request: Request) -> Upstream:
    up: Upstream = request.app.state.upstream
    return up


async def get_case(case_no: str, request: Request) -> dict[str, Any]:
    """Both services read as the caller: each scopes the case to the person's centre (404 outside)."""
    up = _upstream(request)
    who = principal_of(request)
    try:
        case: dict[str, Any] = await up.json("intake", "GET", f"/internal/v1/cases/{case_no}", principal=who)
    except PassThrough as exc:
        if exc.response.status_code == 404:
            raise Problem(
                404, "未找到该事项", f"没有编号为 {case_no} 的事项", type_="case-not-found"
            ) from None
        raise
    try:
        state = await up.json("referral", "GET", f"/internal/v1/cases/{case_no}", principal=who)
    except PassThrough as exc:
        if exc.response.status_code != 404:
            raise
        state = None  # registered, not yet seen by referral: the event is on its way
    if state:
        case["status"] = state["status"]
        case["referrals"] = state["referrals"]
        case["manual_reason"] = state.get("manual_reason")
        # Provisional deadlines (a year without an official schedule) and the tiered centre holding it.
        for key in ("provisional", "centre_id", "centre_level", "resolved_level", "close_reason"):
            if key in state:
                case.setdefault(key, state[key])
        # What the console needs to offer only the steps the life cycle allows now (the case's
        # allowed_actions and round), a pending 退回 (the queue entries), meetings and centre moves.
        for key in ("allowed_actions", "round", "dispatch_queue", "meetings", "centre_moves"):
            if key in state:
                case[key] = state[key]
        # The channel's limit in force (12345's 办理时限 moves when it approves an extension); intake
        # keeps the one the case was registered with.
        if state.get("due_by"):
            case["due_by"] = state["due_by"]
        for key in ("channel_return_code", "channel_return_reason"):
            if state.get(key):
                case[key] = state[key]
    else:
        case["referrals"] = []
    return case


def is_scoped(request: Request) -> bool:
    """The caller is a person limited to a centre's subtree, or a department (its own referrals)."""
    who = principal_of(request)
    return who.centre is not None or who.role == "department"


async def ensure_case_visible(request: Request, case_no: str) -> None:
    """The gateway's own projections (timeline, adapter ledger) hold no centre: for a named person (a
    centre header) or a department, intake — which scopes by the rule both services share — first
    says whether the caller may see the case; outside their scope it is not found (404)."""
    if not is_scoped(request):
        return
    answer = await _upstream(request).request(
        "intake", "GET", f"/internal/v1/cases/{quote(case_no, safe='')}", principal=principal_of(request)
    )
    if answer.status_code == 404:
        raise Problem(404, "未找到该事项", f"没有编号为 {case_no} 的事项记录", type_="case-not-found")
    if answer.status_code >= 400:
        raise PassThrough(answer)


async def get_timeline(case_no: str, request: Request) -> list[TimelineEntry]:
    await ensure_case_visible(request, case_no)
    rt: ServiceRuntime = request.app.state.runtime
    async with rt.db.sessions() as session:
        rows = await case_timeline(session, case_no)
        if not rows:
            raise Problem(404, "未找到该事项", f"没有编号为 {case_no} 的事项记录", type_="case-not-found")
        entries = await with_names(session, with_gaps(rows))
    return [TimelineEntry.model_validate(e) for e in entries]
