"""Issue 16, dead letters handled: a 12345 urge for a case referral does not know yet is retried, then
dead-lettered; once the case exists, `hub dlq replay` processes it exactly once and it shows resolved;
a second replay changes nothing; resolve without replay; bad ids → 404, wrong role → 403 (both
backends: the `hub` fixture runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from gateway.authorization import decide
from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import SECURITY, Api, clock, emit_as, hub, problem, start_hub
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

__all__ = ["clock", "hub"]  # fixtures: pytest finds them under these names in the module

PATH = "/api/v1/ops/dead-letters"
TEMPLATE = f"{PATH}/{{dead_letter_id}}"
URGE = "hotline.urge_received.v1"


async def cli(hub: InProcessHub, *args: str) -> tuple[int, str]:
    """`hub dlq …` against the in-process gateway (in a thread: the hub serves on this loop)."""
    from typer.testing import CliRunner

    from hubcli.main import app

    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["dlq", *args, "--gateway", hub.gateway], env={"COLUMNS": "400"}
    )
    return result.exit_code, result.output


async def dead_letter_of(api: Api, case_no: str) -> dict[str, Any]:
    async def probe() -> list[dict[str, Any]]:
        response = await api.get(PATH, role="ops", params={"queue": "referral.case-events", "status": "all"})
        assert response.status_code == 200, response.text
        return [i for i in response.json()["items"] if i["case_no"] == case_no]

    found = await eventually(probe, timeout=30, what=f"the dead letter of {case_no}")
    (item,) = found
    return item


async def processed(hub: InProcessHub, event_id: str) -> int:
    """How many times referral's consumer took the event (its inbox row) and urged (its events)."""
    from services.referral.tables import kit

    async with hub.runtime("referral").db.sessions() as session:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(kit.inbox)
                    .where(kit.inbox.c.consumer == "referral.case-events", kit.inbox.c.event_id == event_id)
                )
            ).scalar_one()
        )


async def urges_raised(hub: InProcessHub, case_no: str) -> int:
    from services.referral.tables import kit

    async with hub.runtime("referral").db.sessions() as session:
        rows = (
            await session.execute(
                select(kit.outbox.c.body).where(
                    kit.outbox.c.subject == case_no, kit.outbox.c.type == "referral.supervision_raised.v1"
                )
            )
        ).all()
    return sum(1 for (body,) in rows if json.loads(body)["data"].get("urged"))


async def register_like(hub: InProcessHub, api: Api, case_no: str) -> None:
    """Intake registers `case_no` (an anonymous copy of a real registration): the missing data added."""
    from services.intake.tables import kit

    model = await api.register(SECURITY)
    async with hub.runtime("intake").db.sessions() as session:
        (body,) = (
            await session.execute(
                select(kit.outbox.c.body).where(
                    kit.outbox.c.subject == model, kit.outbox.c.type == "case.registered.v1"
                )
            )
        ).one()
    data = json.loads(body)["data"]
    data.update(case_no=case_no, reporter={"anonymous": True}, reporter_key=None)
    await emit_as(hub, "intake", "case.registered.v1", case_no, data)
    await api.dispatched(case_no)


async def test_a_poison_urge_is_replayed_once_after_the_fix_and_another_resolved_without_replay(
    hub: InProcessHub,
) -> None:
    api = Api(hub)
    fixed, dropped = "ZZ-20260302-990001", "ZZ-20260302-990002"
    # 12345 urges two cases referral has never heard of: retried 3 times, then dead-lettered.
    await emit_as(hub, "gateway", URGE, fixed, {"case_no": fixed, "work_order_no": "GD-1"})
    await emit_as(hub, "gateway", URGE, dropped, {"case_no": dropped, "work_order_no": "GD-2"})
    item = await dead_letter_of(api, fixed)
    assert item["id"].startswith("referral-") and item["queue"] == "referral.case-events"
    assert item["event_type"] == URGE and item["status"] == "open" and item["deaths"] == 1
    assert item["attempts"] == 3 and "gave up after 3 retries" in item["reason"]
    assert "case not registered here yet" in item["reason"]
    assert item["first_dead_at"] == item["last_dead_at"]
    assert "body" not in item and "data" not in item  # never the event's data
    assert await processed(hub, item["event_id"]) == 0

    # Who may: ops only (the route table, and the owning service checks the credential's role too);
    # a bad id is a 404 with problem details.
    for method, template in [
        ("GET", PATH),
        ("GET", TEMPLATE),
        ("POST", f"{TEMPLATE}/replay"),
        ("POST", f"{TEMPLATE}/resolve"),
    ]:
        assert decide(method, template, "ops").allowed
        assert not any(
            decide(method, template, r).allowed for r in ("centre", "supervisor", "department", "adapter")
        )
    assert problem(await api.get(PATH, role="centre"), 403)
    assert problem(await api.post(f"{PATH}/{item['id']}/replay", {"reason": "试试"}, role="supervisor"), 403)
    for bad in ("referral-999999", "nobody-1", "referral-x", "referral-"):
        body = problem(await api.get(f"{PATH}/{bad}", role="ops"), 404)
        assert body["type"].endswith("dead-letter-not-found")
    problem(await api.post(f"{PATH}/referral-999999/replay", {"reason": "试试"}, role="ops"), 404)
    problem(await api.post(f"{PATH}/{item['id']}/replay", {"reason": ""}, role="ops"), 422)

    # The fix: the case is registered after all. Then the replay, from the terminal.
    await register_like(hub, api, fixed)
    assert await urges_raised(hub, fixed) == 0
    code, out = await cli(hub, "list", "--queue", "referral.case-events", "--since", "2020-01-01T00:00:00")
    assert code == 0 and item["id"] in out, out
    code, out = await cli(hub, "replay", item["id"], "--reason", "案件已补录，重放催办")
    assert code == 0, out
    await eventually(lambda: processed(hub, item["event_id"]), what="the replayed urge processed")
    assert await eventually(lambda: urges_raised(hub, fixed), what="the urge applied") == 1
    code, out = await cli(hub, "show", item["id"], "--json")
    shown = json.loads(out)
    assert shown["status"] == "resolved" and shown["resolution"] == "replayed" and shown["replays"] == 1
    assert shown["resolved_by"].startswith("ops:") and shown["resolve_reason"] == "案件已补录，重放催办"
    assert [h["action"] for h in shown["history"]] == ["dead_lettered", "replay_requested", "replayed"]
    assert shown["event_id"] == item["event_id"]  # the same event, not a copy with a new id

    # A second replay is refused and changes nothing.
    code, out = await cli(hub, "replay", item["id"], "--reason", "再来一次")
    assert code == 1 and "已重放" in out, out
    assert await processed(hub, item["event_id"]) == 1 and await urges_raised(hub, fixed) == 1

    # The other one is dismissed without replay: never processed; then nothing more can be done to it.
    other = await dead_letter_of(api, dropped)
    resolved = await api.post(f"{PATH}/{other['id']}/resolve", {"reason": "12345 已撤回该工单"}, role="ops")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution"] == "dismissed"
    problem(await api.post(f"{PATH}/{other['id']}/replay", {"reason": "试试"}, role="ops"), 409)
    assert await processed(hub, other["event_id"]) == 0

    # Neither is open any more, nor a stall.
    open_now = (await api.get(PATH, role="ops")).json()
    assert not [i for i in open_now["items"] if i["case_no"] in (fixed, dropped)]
    stalls = (await api.get("/api/v1/ops/stalled", role="ops", params={"kind": "dead_letter"})).json()
    assert not [i for i in stalls["items"] if i["case_no"] in (fixed, dropped)]


CRASHES = (
    "referral.dead_letters.after_store_before_ack=raise,"
    "referral.dead_letters.after_replay_publish_before_mark=raise"
)


@pytest.fixture
async def crashing_hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    """The hub with referral failing once between storing a dead letter and acking its broker copy,
    and once between publishing a replay and marking it replayed."""
    async for running in start_hub(backend, tmp_path, clock, monkeypatch, failpoints=CRASHES):
        yield running


async def test_a_failure_between_steps_loses_nothing_and_processes_nothing_twice(
    crashing_hub: InProcessHub,
) -> None:
    hub = crashing_hub
    api = Api(hub)
    case_no = "ZZ-20260302-990003"
    await emit_as(hub, "gateway", URGE, case_no, {"case_no": case_no})
    # The first look stores it and fails before the ack: the copy goes back to the queue; the next
    # look finds the same death and only acks it. One dead letter, dead once.
    item = await dead_letter_of(api, case_no)
    again = await dead_letter_of(api, case_no)
    assert again["id"] == item["id"] and again["deaths"] == 1

    async def broker_depth() -> int:
        rt = hub.runtime("referral")
        assert rt.connection is not None
        channel = await rt.connection.channel()
        try:
            queue = await channel.declare_queue("referral.case-events.dlq", passive=True)
            return int(queue.declaration_result.message_count or 0)
        finally:
            await channel.close()

    assert await broker_depth() == 0  # acked once stored

    await register_like(hub, api, case_no)
    # The replay is published, then the service fails before marking it: the caller sees an error,
    # the dead letter stays "replaying", and the event is processed (once).
    failed = await api.post(f"{PATH}/{item['id']}/replay", {"reason": "案件已补录"}, role="ops")
    assert failed.status_code == 500
    await eventually(lambda: processed(hub, item["event_id"]), what="the replay processed")
    shown = (await api.get(f"{PATH}/{item['id']}", role="ops")).json()
    assert shown["status"] == "replaying"
    # Replaying again publishes a duplicate the inbox absorbs; now it is marked.
    consumer = next(c for c in hub.runtime("referral").consumers if c.spec.name == "referral.case-events")
    duplicates = consumer.duplicates
    retried = await api.post(f"{PATH}/{item['id']}/replay", {"reason": "确认重放"}, role="ops")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "resolved" and retried.json()["resolution"] == "replayed"

    async def seen_twice() -> int:
        return consumer.duplicates

    await eventually(seen_twice, until=lambda n: n > duplicates, what="the duplicate absorbed by the inbox")
    assert await processed(hub, item["event_id"]) == 1 and await urges_raised(hub, case_no) == 1
