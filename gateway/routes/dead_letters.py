"""Dead letters for ops (issue 16): `GET /api/v1/ops/dead-letters`, `GET …/{id}`, `POST …/{id}/replay`
and `POST …/{id}/resolve` (role ops). Their rows are in gateway/routes/table.py.

Each service owns its dead letters (hub/messaging/dead_letters.py): the id names the service
(`referral-12`), and the gateway forwards to it with the internal credential naming the person, who is
recorded with the reason. Only the owning service may publish into its queue's retry exchange
(decision 0014), so the gateway never touches another service's queues; its own two queues
(gateway.timeline, gateway.adapter-sync) it handles itself. Decision: docs/decisions/0017-dead-letters.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import AwareDatetime
from sqlalchemy import update

from gateway.principals import principal_of
from gateway.tables import dead_letters as recorded
from gateway.upstream import PassThrough, Upstream
from hub.messaging.dead_letters import Actor, DeadLetterDesk
from hub.ops import (
    DeadLetterActionIn,
    DeadLetterOut,
    DeadLettersOut,
    DeadLetterStatus,
    dead_letter_number,
)
from hub.problems import Problem
from hub.runtime import ServiceRuntime

__all__ = [
    "DeadLetterOut",
    "DeadLettersOut",
    "get_dead_letter",
    "list_dead_letters",
    "replay_dead_letter",
    "resolve_dead_letter",
]

SERVICES = ("intake", "referral", "notification")
OWNERS = ("gateway", *SERVICES)
PATH = "/internal/v1/ops/dead-letters"


def _runtime(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


def _desk(request: Request) -> DeadLetterDesk:
    return _runtime(request).dead_letters


def _owner(dead_letter_id: str) -> str:
    service = dead_letter_id.split("-", 1)[0]
    if service not in OWNERS:
        raise Problem(
            404, "未找到", f"没有编号为 {dead_letter_id[:80]} 的死信", type_="dead-letter-not-found"
        )
    dead_letter_number(dead_letter_id, service)  # 404 unless <service>-<digits>
    return service


def _actor(request: Request) -> Actor:
    who = principal_of(request)
    return Actor(who.role, who.id)


async def list_dead_letters(
    request: Request,
    queue: Annotated[str | None, Query(max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")] = None,
    since: AwareDatetime | None = None,
    status: DeadLetterStatus = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> DeadLettersOut:
    """Every service's dead letters, newest first; a service that does not answer is named in `unavailable`."""
    upstream: Upstream = request.app.state.upstream
    principal = principal_of(request)
    wanted = None if status == "all" else status
    total, items = await _desk(request).list(queue=queue, since=since, status=wanted, limit=limit)
    unavailable: list[str] = []
    params: dict[str, Any] = {"status": status, "limit": limit}
    if queue:
        params["queue"] = queue
    if since:
        params["since"] = since.isoformat()
    for service in SERVICES:
        if queue and not queue.startswith(f"{service}."):
            continue
        try:
            page = await upstream.json(service, "GET", PATH, principal=principal, params=params)
        except PassThrough as exc:
            if exc.response.status_code == 403:
                raise
            unavailable.append(service)
            continue
        except Exception:
            unavailable.append(service)
            continue
        total += page["total"]
        items += page["items"]
    items.sort(key=lambda i: str(i["last_dead_at"]), reverse=True)
    return DeadLettersOut(
        total=total, items=[DeadLetterOut.model_validate(i) for i in items[:limit]], unavailable=unavailable
    )


async def get_dead_letter(dead_letter_id: str, request: Request) -> DeadLetterOut:
    service = _owner(dead_letter_id)
    if service == "gateway":
        found = await _desk(request).get(dead_letter_number(dead_letter_id, service))
    else:
        upstream: Upstream = request.app.state.upstream
        found = await upstream.json(
            service, "GET", f"{PATH}/{dead_letter_id}", principal=principal_of(request)
        )
    return DeadLetterOut.model_validate(found)


async def _act(request: Request, dead_letter_id: str, action: str, body: DeadLetterActionIn) -> DeadLetterOut:
    service = _owner(dead_letter_id)
    if service == "gateway":
        desk = _desk(request)
        number = dead_letter_number(dead_letter_id, service)
        if action == "replay":
            found = await desk.replay(number, _actor(request), body.reason)
        else:
            found = await desk.resolve(number, _actor(request), body.reason)
    else:
        upstream: Upstream = request.app.state.upstream
        found = await upstream.json(
            service,
            "POST",
            f"{PATH}/{dead_letter_id}/{action}",
            principal=principal_of(request),
            json=body.model_dump(mode="json"),
        )
    out = DeadLetterOut.model_validate(found)
    if out.status == "resolved":
        await _close_stall(request, out)
    return out


async def _close_stall(request: Request, out: DeadLetterOut) -> None:
    """The stall the gateway recorded from the dead-letter exchange (ops/stalled) is over too."""
    async with _runtime(request).db.transaction() as session:
        await session.execute(
            update(recorded)
            .where(
                recorded.c.queue == out.queue,
                recorded.c.event_id == out.event_id,
                recorded.c.resolved_at.is_(None),
            )
            .values(resolved_at=out.resolved_at or datetime.now(UTC))
        )


async def replay_dead_letter(
    dead_letter_id: str, body: DeadLetterActionIn, request: Request
) -> DeadLetterOut:
    """Publish the event again into its queue, same event id, retry count reset; who and why recorded."""
    return await _act(request, dead_letter_id, "replay", body)


async def resolve_dead_letter(
    dead_letter_id: str, body: DeadLetterActionIn, request: Request
) -> DeadLetterOut:
    """Mark it handled without replaying (who and why recorded)."""
    return await _act(request, dead_letter_id, "resolve", body)
