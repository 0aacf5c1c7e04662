"""The deadline watchdog: the supervision ladder, urges, follow-ups, replicas and traces."""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select

from hub.db import Database, create_engine_for
from hub.messaging.outbox import Outbox
from hub.tracing import split_traceparent
from services.referral.clock import ManualClock
from services.referral.settings import ReferralSettings
from services.referral.tables import kit as referral_kit
from services.referral.usecases.wiring import build_use_cases
from services.referral.watchdog import Watchdog
from tests.integration.test_referral_flow import (
    POLICE,
    SECURITY,
    Api,
    at,
    case_body,
    distinct,
    emit_as,
    outbox_events,
    sh,
    watchdog,
)
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 3, 2, 9, 0))  # Monday


@pytest.fixture
def own_watchdog() -> bool:
    return True


@pytest.fixture
async def hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    own_watchdog: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    import services.referral.main as referral_main

    options = ReferralSettings(watchdog_enabled=own_watchdog)
    monkeypatch.setattr(
        referral_main,
        "bootstrap",
        functools.partial(referral_main.bootstrap, clock=clock, referral_settings=options),
    )
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url)) as running,
    ):
        yield running


# Blue, police station alone (3 working days). From Mon 03-02 09:00:
#   acknowledge (due Tue 09:00): reminder Tue 04:12, ordinary Tue 09:00, yellow Wed 09:00, red Fri 09:00
#   handling (due Thu 09:00): reminder Wed 18:36, ordinary Thu 09:00, yellow Fri 09:00, red Tue 03-10 09:00
LADDER_INSTANTS = [
    sh(2026, 3, 3, 4, 12),
    sh(2026, 3, 3, 9, 0),
    sh(2026, 3, 4, 9, 0),
    sh(2026, 3, 4, 18, 36),
    sh(2026, 3, 5, 9, 0),
    sh(2026, 3, 6, 9, 0),
    sh(2026, 3, 10, 9, 0),
]
STEPS = ("reminder", "ordinary", "yellow_card", "red_card")


@pytest.mark.parametrize("backend", ["postgresql"])
@pytest.mark.parametrize("own_watchdog", [False])
async def test_supervision_ladder_fires_each_step_exactly_once_with_two_replicas(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    cases = [await api.register(distinct(SECURITY, i)) for i in range(12)]
    referrals = {c: (await api.dispatched(c))["referrals"][0]["id"] for c in cases}

    # Two watchdog replicas: each its own engine (connection pool), use cases and outbox writer, as two
    # processes would have, over the one PostgreSQL database; small batches so they interleave.
    rt = hub.runtime("referral")
    config = hub.apps["referral"].app.state.usecases.context.config
    replicas = []
    for _ in range(2):
        db = Database(create_engine_for(hub.settings, "referral"))
        usecases = build_use_cases(config, clock, Outbox(referral_kit.outbox, source="hub/referral"))
        replicas.append(Watchdog(db, usecases, batch=3, lease_s=30, interval_s=0.02))
    stop = asyncio.Event()
    loops = [asyncio.create_task(w.run(stop)) for w in replicas]
    expected = 0
    try:
        for instant in LADDER_INSTANTS:
            clock.set(instant)
            expected += len(cases)  # one step per referral at each instant
            # Besides their own loops, both replicas are poked at once: maximum contention.
            await asyncio.gather(*(w.tick() for w in replicas for _ in range(2)))
            await eventually(
                lambda: outbox_events(hub, "referral.supervision_raised.v1"),
                until=lambda events, n=expected: len(events) >= n,  # type: ignore[misc]
                what=f"{expected} supervision events",
            )
        await asyncio.gather(*(w.tick() for w in replicas))
    finally:
        stop.set()
        for task in loops:
            await task
        for w in replicas:
            await w.db.dispose()

    events = await outbox_events(hub, "referral.supervision_raised.v1")
    per_step = Counter((e["referral_id"], e["deadline_kind"], e["level"]) for e in events)
    assert len(events) == len(cases) * 8
    assert set(per_step.values()) == {1}, [k for k, n in per_step.items() if n > 1]
    assert set(per_step) == {
        (r, kind, step) for r in referrals.values() for kind in ("acknowledge", "handling") for step in STEPS
    }
    assert all(w.fired > 0 for w in replicas), [w.fired for w in replicas]  # both took a share
    async with rt.db.sessions() as session:
        from services.referral.tables import deadlines
        from services.referral.tables import referrals as referral_table

        levels = (await session.execute(select(referral_table.c.supervision_level))).scalars().all()
        assert set(levels) == {"red_card"}
        left = (
            await session.execute(select(deadlines.c.id).where(deadlines.c.claim_token.is_not(None)))
        ).all()
        assert left == []  # every claim released
    print(
        f"\nladder with two replicas: {len(events)} events, fired per replica {[w.fired for w in replicas]}"
    )


async def test_a_firing_starts_a_new_trace_linked_to_the_case(
    hub: InProcessHub, clock: ManualClock, spans: InMemorySpanExporter
) -> None:
    api = Api(hub)
    response = await api.post("/api/v1/cases", SECURITY)
    case_no, case_trace = response.json()["case_no"], response.json()["trace_id"]
    await api.dispatched(case_no)
    clock.set(sh(2026, 3, 3, 4, 12))  # the acknowledge reminder
    await watchdog(hub).tick()
    (event,) = await outbox_events(hub, "referral.supervision_raised.v1", case_no)
    assert event["level"] == "reminder" and event["stage"] == "acknowledge"

    rt = hub.runtime("referral")
    outbox = referral_kit.outbox
    async with rt.db.sessions() as session:
        traceparent = (
            await session.execute(
                select(outbox.c.traceparent).where(
                    outbox.c.type == "referral.supervision_raised.v1", outbox.c.subject == case_no
                )
            )
        ).scalar_one()
    firing_trace, _ = split_traceparent(traceparent)
    assert firing_trace and firing_trace != case_trace  # a new trace …
    (span,) = [  # case numbers repeat across test hubs: find the span by its trace
        s
        for s in spans.get_finished_spans()
        if s.name == "referral.watchdog acknowledge" and format(s.context.trace_id, "032x") == firing_trace
    ]
    assert span.parent is None and span.attributes and span.attributes["hub.case_no"] == case_no
    assert [format(link.context.trace_id, "032x") for link in span.links] == [
        case_trace
    ]  # … linked to the case's
    timeline = await eventually(
        lambda: api.get(f"/api/v1/cases/{case_no}/timeline"),
        until=lambda r: any(e["event"] == "referral.supervision_raised.v1" for e in r.json()),
        what="timeline entry of the firing",
    )
    entry = next(e for e in timeline.json() if e["event"] == "referral.supervision_raised.v1")
    assert entry["trace_id"] == firing_trace and entry["actor"]["role"] == "system"
    assert entry["linked_trace_id"] == case_trace  # a long wait: its own trace, linked to the case's
    assert entry["since_previous_ms"] is not None and entry["since_previous_ms"] >= 0
    first = timeline.json()[0]
    assert first["trace_id"] == case_trace and first["linked_trace_id"] is None


async def test_a_12345_urge_jumps_one_step(hub: InProcessHub, clock: ManualClock) -> None:
    api = Api(hub)
    case_no = await api.register(SECURITY)
    rid = (await api.dispatched(case_no))["referrals"][0]["id"]
    await api.ok(rid, "acknowledge", department=POLICE)  # the handling ladder is the active one

    await emit_as(
        hub, "gateway", "hotline.urge_received.v1", case_no, {"case_no": case_no, "work_order_no": "GD1"}
    )
    raised = await eventually(
        lambda: outbox_events(hub, "referral.supervision_raised.v1", case_no), what="urged reminder"
    )
    assert [(e["level"], e["urged"], e["deadline_kind"]) for e in raised] == [("reminder", True, "handling")]
    assert raised[0]["actor_role"] == "adapter"
    referral = (await api.ok(rid, "acknowledge", department=POLICE))["referral"]
    assert referral["supervision_level"] == "reminder"

    # At the 80% instant the reminder is not sent again; the next step comes at the deadline.
    clock.set(sh(2026, 3, 4, 18, 36))
    await watchdog(hub).tick()
    assert len(await outbox_events(hub, "referral.supervision_raised.v1", case_no)) == 1
    await emit_as(hub, "gateway", "hotline.urge_received.v1", case_no, {"case_no": case_no})
    raised = await eventually(
        lambda: outbox_events(hub, "referral.supervision_raised.v1", case_no),
        until=lambda events: len(events) == 2,
        what="second urge",
    )
    assert raised[1]["level"] == "ordinary" and raised[1]["urged"]
    clock.set(sh(2026, 3, 5, 9, 0))  # the deadline: ordinary was reached already by the urge
    await watchdog(hub).tick()
    clock.set(sh(2026, 3, 6, 9, 0))  # one working day past: yellow card
    await watchdog(hub).tick()
    levels = [e["level"] for e in await outbox_events(hub, "referral.supervision_raised.v1", case_no)]
    assert levels == ["reminder", "ordinary", "yellow_card"]


async def test_closed_cases_are_followed_up_by_colour(hub: InProcessHub, clock: ManualClock) -> None:
    api = Api(hub)
    red = await api.register(case_body("public_security", people=40))
    blue = await api.register(distinct(SECURITY, 1))
    for case_no in (red, blue):
        rid = (await api.dispatched(case_no))["referrals"][0]["id"]
        await api.ok(rid, "acknowledge", department=POLICE)
        await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已处理"}, department=POLICE)
        closed = await api.post(f"/api/v1/cases/{case_no}/callback", {"satisfaction": "satisfied"})
        assert closed.json()["case"]["status"] == "closed"
    red_state = await api.state(red)
    (plan,) = red_state["follow_ups"]
    assert plan["limit"] == "daily" and at(plan["due_at"]) == sh(2026, 4, 1, 9, 0)  # 30 days
    assert (await api.state(blue))["follow_ups"] == []

    clock.set(sh(2026, 3, 3, 9, 0))
    await watchdog(hub).tick()
    clock.set(sh(2026, 3, 6, 12, 0))  # the watchdog was away for three days: one follow-up, not four
    await watchdog(hub).tick()
    due = await outbox_events(hub, "case.follow_up_due.v1", red)
    assert [(e["sequence"], at(e["scheduled_at"])) for e in due] == [
        (1, sh(2026, 3, 3, 9, 0)),
        (4, sh(2026, 3, 6, 9, 0)),
    ]
    assert all(e["colour"] == "red" and e["cadence"] == "daily" and not e["last"] for e in due)
    clock.set(sh(2026, 4, 30, 9, 0))
    await watchdog(hub).tick()
    await watchdog(hub).tick()
    due = await outbox_events(hub, "case.follow_up_due.v1", red)
    assert due[-1]["sequence"] == 30 and due[-1]["last"] and len(due) == 3
    assert await outbox_events(hub, "case.follow_up_due.v1", blue) == []


async def test_the_watchdog_loop_runs_in_the_service(hub: InProcessHub, clock: ManualClock) -> None:
    """No explicit tick: the service's own background loop fires once the clock has moved."""
    api = Api(hub)
    case_no = await api.register(SECURITY)
    await api.dispatched(case_no)
    clock.set(sh(2026, 3, 3, 9, 0))
    watchdog(hub).wake()
    events = await eventually(
        lambda: outbox_events(hub, "referral.supervision_raised.v1", case_no),
        until=lambda e: len(e) == 2,
        what="background watchdog",
    )
    assert [e["level"] for e in events] == ["reminder", "ordinary"]  # both steps of the acknowledge ladder
