"""Issue 5, end to end: the citizen answers the callback invitation (回访) with "3" (不满意) from their
phone, and the right case reopens and goes back to the department — gateway, intake, referral and
notification over RabbitMQ, the SMS provider's SmsUp push from its loopback simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.referral.clock import ManualClock
from tests.integration.test_notification_kit import CALLBACK
from tests.integration.test_referral_flow import POLICE, SECURITY, Api, distinct, outbox_events, sh, start_hub
from tests.kit.inprocess import InProcessHub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 3, 2, 9, 0))


@pytest.fixture
async def hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    async for running in start_hub(backend, tmp_path, clock, monkeypatch):
        yield running


async def replied_and_invited(api: Api, hub: InProcessHub, body: dict[str, Any]) -> str:
    case_no = await api.register(body)
    rid = (await api.dispatched(case_no))["referrals"][0]["id"]
    await api.ok(rid, "acknowledge", department=POLICE)
    await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已调解处理"}, department=POLICE)
    await eventually(
        hub.sms_received,
        until=lambda items: any(
            m["template_code"] == CALLBACK and m["params"].get("case_no") == case_no for m in items
        ),
        what=f"callback invitation for {case_no}",
    )
    return case_no


async def test_an_inbound_3_from_the_citizen_reopens_the_right_case(hub: InProcessHub) -> None:
    api = Api(hub)
    mine_body, other_body = distinct(SECURITY, 41), distinct(SECURITY, 42)
    mine = await replied_and_invited(api, hub, mine_body)
    other = await replied_and_invited(api, hub, other_body)  # another citizen, invited too

    async with httpx.AsyncClient(base_url=hub.sms, timeout=30) as sim:
        notification = hub.apps["notification"].url
        configured = await sim.post(
            "/_sim/config", json={"inbound_url": f"{notification}/internal/v1/sms/inbound"}
        )
        assert configured.status_code == 200, configured.text
        pushed = await sim.post(
            "/_sim/inbound", json={"phone": mine_body["reporter"]["phone"], "content": "3"}
        )
    assert pushed.status_code == 200 and pushed.json()["answer"]["outcomes"] == {"matched": 1}, pushed.text

    state = await eventually(
        lambda: api.state(mine), until=lambda s: s.get("round") == 2, what="reopened by the SMS answer"
    )
    assert state["status"] == "dispatched" and state["satisfaction"] == "dissatisfied"
    round_two = [r for r in state["referrals"] if r["round"] == 2]
    assert [r["department"] for r in round_two] == [POLICE]  # back to the department
    (reopened,) = await outbox_events(hub, "case.reopened.v1", mine)
    assert reopened["via"] == "sms"

    untouched = await api.state(other)
    assert (
        untouched["round"] == 1 and untouched["status"] != "dispatched" and untouched["satisfaction"] is None
    )
