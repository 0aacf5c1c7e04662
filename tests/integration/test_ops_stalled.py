"""Issue 7 acceptance: a case stalls past its acknowledge deadline (frozen time) and ops find it through
/api/v1/ops/stalled with its department, overdue minutes and supervision level; the filters; and a
stall that is not a deadline (an SMS undelivered for good) surfaced with its case number."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gateway.authorization import decide
from services.referral.clock import ManualClock
from tests.integration.test_referral_flow import (
    POLICE,
    SECURITY,
    STREET,
    Api,
    clock,
    emit_as,
    hub,
    sh,
    watchdog,
)
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub
from tests.kit.pii_scan import scan_text
from tests.kit.waiting import eventually

__all__ = ["clock", "hub"]  # fixtures: pytest finds them under these names in the module


async def stalled(api: Api, role: str = "ops", **params: Any) -> dict[str, Any]:
    response = await api.get("/api/v1/ops/stalled", role=role, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def hub_cli(hub: InProcessHub, *args: str) -> str:
    """Run a `hub` command against the in-process gateway (in a thread: the hub serves on this loop)."""
    from typer.testing import CliRunner

    from hubcli.main import app

    result = await asyncio.to_thread(
        CliRunner().invoke, app, [*args, "--gateway", hub.gateway], env={"COLUMNS": "400"}
    )
    assert result.exit_code == 0, result.output
    return result.output


def of_case(body: dict[str, Any], case_no: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [i for i in body["items"] if i["case_no"] == case_no and (kind is None or i["kind"] == kind)]


async def test_a_case_past_its_acknowledge_deadline_is_found_with_department_overdue_and_level(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    registered = await api.post("/api/v1/cases", SECURITY)
    case_no, case_trace = registered.json()["case_no"], registered.json()["trace_id"]
    state = await api.dispatched(case_no)
    assert state["referrals"][0]["department"] == POLICE  # blue, police alone: acknowledge by Tue 09:00

    assert of_case(await stalled(api), case_no) == []  # on time: not stalled

    clock.set(sh(2026, 3, 3, 10, 30))  # 90 minutes past the acknowledge deadline, nobody came
    await watchdog(hub).tick()  # the ladder: reminder, then ordinary supervision at the deadline
    body = await stalled(api, department=POLICE)
    (item,) = of_case(body, case_no)
    assert item["kind"] == "deadline" and item["stage"] == "acknowledge"
    assert item["department"] == POLICE and item["unit"]  # where it sits: the unit and its name
    assert item["state"] == "dispatched"
    assert item["overdue_minutes"] == 90
    assert item["supervision_level"] == "ordinary"
    assert item["since"].startswith("2026-03-03T01:00")  # the deadline, Tue 09:00 Shanghai
    assert item["colour"] == "blue" and item["street_code"] == STREET
    assert item["trace_id"] == case_trace
    handoff = item["last_handoff"]
    assert handoff and handoff["event"] and handoff["service"] and handoff["at"]
    assert body["unavailable"] == []

    # Filters: department (code or type), colour, street, minimum overdue minutes.
    assert of_case(await stalled(api, department="police_station"), case_no)
    assert not of_case(await stalled(api, department="housing_bureau@150203"), case_no)
    assert of_case(await stalled(api, colour="blue"), case_no)
    assert not of_case(await stalled(api, colour="red"), case_no)
    assert of_case(await stalled(api, street=STREET), case_no)
    assert not of_case(await stalled(api, street="150203999000"), case_no)
    assert of_case(await stalled(api, min_overdue_minutes=90), case_no)
    assert not of_case(await stalled(api, min_overdue_minutes=91), case_no)
    assert of_case(await stalled(api, role="centre", kind="deadline"), case_no)

    # The same from the terminal: `hub stalled` (JSON and table) and `hub trace`.
    listed = await hub_cli(hub, "stalled", "--json", "--department", POLICE, "--min-overdue-minutes", "60")
    assert of_case(json.loads(listed), case_no)[0]["overdue_minutes"] == 90
    assert case_no in await hub_cli(hub, "stalled", "--colour", "blue")
    printed = await hub_cli(hub, "trace", case_no)
    assert "referral.supervision_raised.v1" in printed and case_trace in printed
    assert "linked to" in printed  # the watchdog's firing: its own trace, linked to the case's

    # A day and more later, red card; still at the top of the list.
    clock.set(sh(2026, 3, 6, 9, 30))
    await watchdog(hub).tick()
    (late,) = of_case(await stalled(api), case_no)
    assert late["supervision_level"] == "red_card" and late["overdue_minutes"] == 3 * 1440 + 30

    # Read-only for ops and centre; a department may not look; no personal data in the answer.
    assert decide("GET", "/api/v1/ops/stalled", "department").allowed is False
    assert (
        decide("GET", "/api/v1/ops/stalled", "ops").allowed
        and decide("GET", "/api/v1/ops/stalled", "centre").allowed
    )
    text = (await api.get("/api/v1/ops/stalled", role="ops")).text
    assert scan_text(Path("ops-stalled"), text) == []
    assert "13812341234" not in text and "王女士" not in text


async def test_an_sms_undelivered_for_good_is_a_stall_with_its_case_number(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(SECURITY)
    await api.dispatched(case_no)
    await eventually(
        hub.sms_received,
        until=lambda items: any(case_no in m["text"] for m in items),
        what="the acceptance SMS",
    )
    notification = hub.apps["notification"]
    notification.app.state.sender.max_attempts = 1  # the first undelivered report is final
    async with http_client(base_url=hub.sms) as sim:
        # The simulator pushes receipts through the gateway's SMS adapter (tests/kit/inprocess.py).
        pushed = await sim.post(
            "/_sim/deliver-receipts", params={"success": False, "err_code": "MOBILE_NOT_ON_SERVICE"}
        )
    assert pushed.json()["status"] == 200, pushed.text

    body = await eventually(
        lambda: stalled(Api(hub), kind="sms"),
        until=lambda b: bool(of_case(b, case_no)),
        what="the failed SMS among the stalls",
    )
    item = of_case(body, case_no)[0]
    assert item["state"] == "failed" and item["stage"]  # the template
    assert "MOBILE_NOT_ON_SERVICE" in item["detail"]
    assert item["colour"] == "blue" and item["street_code"] == STREET  # learned from the case
    assert item["last_handoff"] is not None
    assert of_case(await stalled(api, kind="sms", colour="blue"), case_no)
    assert not of_case(await stalled(api, kind="sms", colour="red"), case_no)
    assert "13812341234" not in body.__repr__()


async def test_a_dead_lettered_event_is_a_stall_with_its_case_number(hub: InProcessHub) -> None:
    from gateway.ops.dead_letters import WATCHED_QUEUES

    queues = {
        spec.name
        for s in ("gateway", "intake", "referral", "notification")
        for spec, _ in hub.runtime(s)._consumer_specs
    }
    assert queues == set(WATCHED_QUEUES)  # every consumer queue's dead letters are recorded

    case_no = "ZZ-20260302-99999"
    await emit_as(hub, "intake", "case.registered.v1", case_no, {"case_no": case_no, "colour": 42})  # poison
    api = Api(hub)
    body = await eventually(
        lambda: stalled(api, kind="dead_letter"),
        until=lambda b: len(of_case(b, case_no)) >= 3,  # referral, notification and adapter-sync refuse it
        what="the dead letter among the stalls",
    )
    item = next(i for i in of_case(body, case_no) if "referral.case-events" in i["detail"])
    assert item["kind"] == "dead_letter" and item["state"] == "dead_lettered"
    assert item["stage"] == "case.registered.v1" and "invalid event data" in item["detail"]
    assert all(i["case_no"] == case_no for i in of_case(body, case_no))
    queues_hit = {i["detail"].split(":")[0] for i in of_case(body, case_no)}
    assert {"referral.case-events", "notification.events"} <= queues_hit

    async with http_client() as client:
        metrics = (await client.get(f"{hub.apps['referral'].url}/metrics")).text
    assert 'hub_dead_letter_depth{queue="referral.case-events.dlq"} 1.0' in metrics


async def test_an_event_stuck_in_an_outbox_is_a_stall_with_its_case_number(hub: InProcessHub) -> None:
    """A relay that claimed a row and died holds it until its lease ends: ops see the row waiting."""
    from datetime import UTC, datetime, timedelta

    from hub.messaging.envelope import new_event
    from services.referral.tables import kit as referral_kit

    case_no = "ZZ-20260302-88888"
    event = new_event("referral.dispatched.v1", "hub/referral", case_no, {"case_no": case_no})
    now = datetime.now(UTC)
    async with hub.runtime("referral").db.transaction() as session:
        await session.execute(
            referral_kit.outbox.insert().values(
                event_id=event.id,
                type=event.type,
                subject=case_no,
                body=event.to_json().decode("utf-8"),
                created_at=now - timedelta(minutes=5),
                claim_token="a-relay-that-died",
                claimed_until=now + timedelta(hours=1),
                attempts=1,
            )
        )
    body = await stalled(Api(hub), kind="outbox")
    (item,) = of_case(body, case_no)
    assert item["kind"] == "outbox" and item["stage"] == "referral.dispatched.v1"
    assert item["state"] == "unrelayed" and item["overdue_minutes"] == 5
    assert item["detail"].startswith("referral outbox")


async def test_an_outbound_adapter_delivery_given_up_is_a_stall_and_a_metric(hub: InProcessHub) -> None:
    """The ledger row the adapter sender leaves when it gives up (gateway/adapters/ledger/sender.py)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from gateway.tables import adapter_deliveries

    case_no = "ZZ-20260302-77777"
    now = datetime.now(UTC)
    async with hub.runtime("gateway").db.transaction() as session:
        await session.execute(
            adapter_deliveries.insert().values(
                update_id=str(uuid.uuid4()),
                case_no=case_no,
                system="hotline12345",
                update_name="accepted",
                update_key="1:accepted",
                round=1,
                rank=0,
                data={},
                status="failed",
                attempts=20,
                next_attempt_at=now,
                last_error="HTTP 503",
                created_at=now - timedelta(minutes=42),
                finished_at=now,
            )
        )
    (item,) = of_case(await stalled(Api(hub), kind="adapter_delivery"), case_no)
    assert (item["stage"], item["state"], item["overdue_minutes"]) == ("hotline12345", "failed", 42)
    assert "20 attempt(s)" in item["detail"] and "HTTP 503" in item["detail"]
    async with http_client() as client:
        metrics = (await client.get(f"{hub.gateway}/metrics")).text
    assert 'hub_adapter_deliveries{status="failed",system="hotline12345"} 1.0' in metrics
