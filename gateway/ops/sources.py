"""Where the ops views read from: the services behind the gateway and the gateway's own tables.

A service that does not answer is named in `unavailable` rather than failing the whole view: ops
must see the rest exactly when something is broken.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import HTTPException
from sqlalchemy import and_, or_, select

from gateway.ops.stalls import minutes_between
from gateway.principals import GATEWAY
from gateway.settings import GatewaySettings
from gateway.tables import adapter_deliveries, timeline
from gateway.upstream import PassThrough, Upstream
from hub.credentials import Principal
from hub.ops import stale_outbox
from hub.problems import Problem
from hub.runtime import ServiceRuntime

OUTBOX_SERVICES = ("intake", "referral", "notification")


class Sources:
    """``who``: the caller, whom referral's and intake's case reads are made as, so each scopes them to
    the person's centre (services/*/scoping.py); ``scoped`` when a person's centre or a department
    limits what they see (then the views keep only cases those reads returned). Without a caller the
    gateway reads as itself (whole hub)."""

    def __init__(
        self,
        runtime: ServiceRuntime[GatewaySettings],
        upstream: Upstream,
        who: Principal | None = None,
    ) -> None:
        self.runtime = runtime
        self.upstream = upstream
        self.settings = runtime.settings
        self.unavailable: list[str] = []
        self.who = who or GATEWAY
        self.scoped = self.who.centre is not None or self.who.role == "department"

    async def _json(self, service: str, path: str, params: Any = None) -> Any:
        principal = self.who if service in ("intake", "referral") else GATEWAY
        try:
            return await self.upstream.json(service, "GET", path, principal=principal, params=params)
        except (PassThrough, Problem, HTTPException):
            self.unavailable.append(service)
            return None

    # --- stalls -----------------------------------------------------------------------------------

    async def referral_stalls(self) -> list[dict[str, Any]]:
        page = await self._json(
            "referral", "/internal/v1/ops/stalled", {"idle_minutes": self.settings.ops_idle_minutes}
        )
        items: list[dict[str, Any]] = page["items"] if page else []
        for item in items:
            item["since"] = _dt(item["since"])
            item["due_at"] = _dt(item["due_at"]) if item.get("due_at") else None
            item["unit"] = item.pop("department_name", None)
            item["detail"] = None
        return items

    async def outbox_stalls(self) -> list[dict[str, Any]]:
        older = self.settings.ops_outbox_stall_s
        now = datetime.now(UTC)
        found: list[tuple[str, dict[str, Any]]] = []
        own = await stale_outbox(self.runtime.db, self.runtime.kit.outbox, timedelta(seconds=older))
        found += [("gateway", r.model_dump()) for r in own]
        for service in OUTBOX_SERVICES:
            page = await self._json(service, "/internal/v1/ops/outbox", {"older_than_s": older})
            found += [(service, r) for r in (page["items"] if page else [])]
        items = []
        for service, row in found:
            if not row.get("case_no"):
                continue
            since = _dt(row["created_at"])
            items.append(
                _item(
                    row["case_no"],
                    "outbox",
                    since,
                    minutes_between(since, now),
                    stage=row["type"],
                    state="unrelayed",
                    trace_id=row.get("trace_id"),
                    detail=f"{service} outbox, {row['attempts']} attempt(s)",
                )
            )
        return items

    async def adapter_stalls(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        slow = now - timedelta(seconds=self.settings.ops_adapter_stall_s)
        t = adapter_deliveries
        query = (
            select(t.c.case_no, t.c.system, t.c.update_name, t.c.status, t.c.attempts)
            .add_columns(t.c.last_error, t.c.created_at, t.c.traceparent)
            .where(
                or_(
                    t.c.status == "failed",
                    and_(t.c.status.in_(("pending", "sending")), t.c.attempts > 0, t.c.created_at <= slow),
                )
            )
            .order_by(t.c.id)
            .limit(500)
        )
        async with self.runtime.db.sessions() as session:
            rows = (await session.execute(query)).all()
        items = []
        for r in rows:
            detail = f"{r.system} {r.update_name}: {r.attempts} attempt(s)"
            if r.last_error:
                detail += f", {r.last_error[:120]}"
            items.append(
                _item(
                    r.case_no,
                    "adapter_delivery",
                    r.created_at,
                    minutes_between(r.created_at, now),
                    stage=r.system,
                    state=r.status,
                    trace_id=_trace(r.traceparent),
                    detail=detail,
                )
            )
        return items

    async def dead_letter_stalls(self) -> list[dict[str, Any]]:
        from gateway.ops.dead_letters import open_dead_letters

        now = datetime.now(UTC)
        items = []
        for r in await open_dead_letters(self.runtime):
            since = r.dead_at or r.recorded_at
            items.append(
                _item(
                    r.case_no,
                    "dead_letter",
                    since,
                    minutes_between(since, now),
                    stage=r.event_type,
                    state="dead_lettered",
                    trace_id=r.trace_id,
                    detail=f"{r.queue}: {r.reason[:200]}",
                )
            )
        return items

    async def sms_stalls(self) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        page = await self._json("notification", "/internal/v1/deliveries", {"status": "failed", "limit": 500})
        items = []
        for row in page["items"] if page else []:
            if not row.get("case_no"):
                continue
            since = _dt(row["created_at"])
            reason = row.get("receipt_code") or row.get("last_error") or "failed"
            items.append(
                _item(
                    row["case_no"],
                    "sms",
                    since,
                    minutes_between(since, now),
                    stage=row["template"],
                    state=row["status"],
                    department=row.get("department"),
                    detail=f"{row['recipient_kind']} via {row.get('provider') or '-'}: {str(reason)[:120]}",
                )
            )
        return items

    # --- case context -----------------------------------------------------------------------------

    async def case_facts(self, numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(numbers))
        known: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), 200):
            page = await self._json("referral", "/internal/v1/ops/facts", {"case_no": wanted[i : i + 200]})
            for row in page["items"] if page else []:
                known[row["case_no"]] = {**row, "state": row["status"]}
        return known

    async def facts(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Cases registered in [start, end): always a range, so referral's query is bounded by it."""
        params = {"from": start.isoformat(), "to": end.isoformat()}
        page = await self.upstream.json(
            "referral", "GET", "/internal/v1/ops/facts", principal=self.who, params=params
        )
        items: list[dict[str, Any]] = page["items"]
        return items

    async def last_handoffs(self, numbers: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(numbers))
        last: dict[str, dict[str, Any]] = {}
        async with self.runtime.db.sessions() as session:
            for i in range(0, len(wanted), 500):
                rows = await session.execute(
                    select(timeline.c.case_no, timeline.c.at, timeline.c.service, timeline.c.event)
                    .add_columns(timeline.c.trace_id)
                    .where(timeline.c.case_no.in_(wanted[i : i + 500]))
                    .order_by(timeline.c.at, timeline.c.id)
                )
                for r in rows:
                    last[r.case_no] = {
                        "event": r.event,
                        "service": r.service,
                        "at": r.at,
                        "trace_id": r.trace_id,
                    }
        return last

    async def signals(self, since: datetime) -> list[dict[str, Any]]:
        page = await self.upstream.json(
            "intake",
            "GET",
            "/internal/v1/ops/signals",
            principal=self.who,
            params={"since": since.isoformat()},
        )
        items: list[dict[str, Any]] = page["items"]
        return items


def _item(
    case_no: str,
    kind: str,
    since: datetime,
    overdue_minutes: int,
    *,
    stage: str | None,
    state: str | None,
    trace_id: str | None = None,
    department: str | None = None,
    detail: str | None = None,
) -> dict[str, Any]:
    return {
        "case_no": case_no,
        "kind": kind,
        "stage": stage,
        "state": state,
        "department": department,
        "unit": None,
        "referral_id": None,
        "since": since,
        "due_at": None,
        "overdue_minutes": overdue_minutes,
        "supervision_level": None,
        "provisional": False,
        "colour": None,
        "category": None,
        "street_code": None,
        "trace_id": trace_id,
        "detail": detail,
    }


def _dt(value: Any) -> datetime:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _trace(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None
