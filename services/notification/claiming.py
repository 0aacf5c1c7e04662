"""Claiming due deliveries: a batch of `pending` rows (and `sending` ones whose lease expired) moved
to `sending` under a lease, citizen rows checked again first (opt-out, quiet hours, per-phone rate
limit): deferred rows go back to `pending` with a later `not_before`, opted-out ones stop as
`opted_out`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import case, or_, select, update

from hub.db import Database
from services.notification.delivery_records import WEBHOOK
from services.notification.domain.scheduling import SendingPolicy, earliest_send
from services.notification.ledger import opted_out, send_history
from services.notification.tables import deliveries


@dataclass(frozen=True)
class Claimed:
    row: Any
    # The lease of an earlier attempt expired mid-send (or its lookup is still unsettled): the
    # provider may already have the message.
    recovered: bool
    previous_claim_until: datetime | None


async def claim_due(
    db: Database,
    *,
    now: datetime,
    batch: int,
    lease: timedelta,
    policy: SendingPolicy,
    first_provider: str | None,
    outcomes: Counter,
) -> list[Claimed]:
    """Claim up to `batch` due rows, oldest first; `first_provider` is recorded on fresh SMS rows."""
    t = deliveries
    async with db.transaction() as session:
        due = (
            select(t.c.id)
            .where(
                or_(t.c.status == "pending", (t.c.status == "sending") & (t.c.claimed_until < now)),
                t.c.not_before <= now,
            )
            .order_by(t.c.not_before, t.c.created_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        )
        ids = list((await session.execute(due)).scalars())
        if not ids:
            return []
        rows = list(
            await session.execute(select(t).where(t.c.id.in_(ids)).order_by(t.c.not_before, t.c.created_at))
        )
        recovered = {r.id for r in rows if r.status == "sending" or r.recovery == "unsettled"}
        go, defer, stopped = await _recheck(session, rows, recovered, now, policy)
        if stopped:
            await session.execute(
                update(t).where(t.c.id.in_(stopped)).values(status="opted_out", claimed_until=None)
            )
            for _ in stopped:
                outcomes.labels("sms", "opted_out").inc()
        for row_id, at in defer.items():
            await session.execute(
                update(t).where(t.c.id == row_id).values(status="pending", not_before=at, claimed_until=None)
            )
            outcomes.labels("sms", "deferred").inc()
        if not go:
            return []
        fresh = [r.id for r in go if r.id not in recovered]
        if fresh:
            # The provider about to be called is recorded with the claim: after a crash the
            # sender knows whom to ask (failover records the next one before calling it).
            await session.execute(
                update(t)
                .where(t.c.id.in_(fresh))
                .values(
                    status="sending",
                    claimed_until=now + lease,
                    attempts=t.c.attempts + 1,
                    provider=case((t.c.recipient_kind == WEBHOOK, "webhook"), else_=first_provider),
                )
            )
        again = [r.id for r in go if r.id in recovered]
        if again:
            await session.execute(
                update(t)
                .where(t.c.id.in_(again))
                .values(status="sending", claimed_until=now + lease, attempts=t.c.attempts + 1)
            )
        previous = {r.id: r.claimed_until for r in go}
        order = {r.id: i for i, r in enumerate(go)}
        claimed = (await session.execute(select(t).where(t.c.id.in_(list(order))))).all()
    return [
        Claimed(
            row,
            row.id in recovered,
            previous[row.id],
        )
        for row in sorted(claimed, key=lambda r: order[r.id])
    ]


async def _recheck(
    session: Any, rows: list[Any], recovered: set[str], now: datetime, policy: SendingPolicy
) -> tuple[list[Any], dict[str, datetime], list[str]]:
    """Opt-outs, quiet hours and the rate limit, again, for citizen rows about to be sent."""
    citizen = [r for r in rows if r.recipient_kind == "citizen" and r.id not in recovered]
    hashes = {r.recipient_hash for r in citizen}
    blocked = await opted_out(session, hashes)
    history = await send_history(
        session,
        hashes,
        now=now,
        window=policy.rate_limit.window,
        include_scheduled=False,
        exclude={r.id for r in rows},
    )
    go: list[Any] = []
    defer: dict[str, datetime] = {}
    stopped: list[str] = []
    for row in rows:
        if row.recipient_kind == "citizen" and row.id not in recovered:
            if row.recipient_hash in blocked:
                stopped.append(row.id)
                continue
            at = earliest_send(now, row.colour, "citizen", history[row.recipient_hash], policy)
            if at > now:
                defer[row.id] = at
                continue
            history[row.recipient_hash].append(now)
        go.append(row)
    return go, defer, stopped
