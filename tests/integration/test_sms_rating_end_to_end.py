"""Issue 5, end to end: the citizen answers the callback invitation (回访) with "3" (不满意) from their
phone, and the right case reopens and goes back to the department — gateway, intake, referral and
notification over RabbitMQ, the SMS provider's SmsUp push from its loopback simulator. Issue 12: the
same over SMPP, the "3" a deliver_sm from the loopback SMSC on the bound session."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.notification.sms.smpp.simulator.smsc import SmppSimulator
from services.referral.clock import ManualClock
from tests.integration.test_notification_kit import CALLBACK
from tests.integration.test_referral_flow import POLICE, SECURITY, Api, distinct, outbox_events, sh, start_hub
from tests.kit.http import http_client
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


Invited = Callable[[str], Awaitable[None]]


async def replied_and_invited(
    api: Api, hub: InProcessHub, body: dict[str, Any], invited: Invited | None = None
) -> str:
    """Register, dispatch, acknowledge and reply; return once `invited(case_no)` has seen the
    citizen's callback invitation arrive at the provider (by default the cloud provider's simulator)."""
    case_no = await api.register(body)
    rid = (await api.dispatched(case_no))["referrals"][0]["id"]
    await api.ok(rid, "acknowledge", department=POLICE)
    await api.ok(rid, "reply", {"outcome": "resolved", "summary": "已调解处理"}, department=POLICE)
    await (invited or functools.partial(_invited_in_the_cloud, hub))(case_no)
    return case_no


async def _invited_in_the_cloud(hub: InProcessHub, case_no: str) -> None:
    await eventually(
        hub.sms_received,
        until=lambda items: any(
            m["template_code"] == CALLBACK and m["params"].get("case_no") == case_no for m in items
        ),
        what=f"callback invitation for {case_no}",
    )


async def reopened_and_the_other_untouched(api: Api, hub: InProcessHub, mine: str, other: str) -> None:
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


async def test_an_inbound_3_from_the_citizen_reopens_the_right_case(hub: InProcessHub) -> None:
    api = Api(hub)
    mine_body, other_body = distinct(SECURITY, 41), distinct(SECURITY, 42)
    mine = await replied_and_invited(api, hub, mine_body)
    other = await replied_and_invited(api, hub, other_body)  # another citizen, invited too

    async with http_client(base_url=hub.sms) as sim:
        # The provider pushes to the gateway's SMS adapter, which forwards to notification.
        configured = await sim.post("/_sim/config", json={"inbound_url": hub.sms_push_url("inbound")})
        assert configured.status_code == 200, configured.text
        pushed = await sim.post(
            "/_sim/inbound", json={"phone": mine_body["reporter"]["phone"], "content": "3"}
        )
    assert pushed.status_code == 200 and pushed.json()["answer"]["outcomes"] == {"matched": 1}, pushed.text

    await reopened_and_the_other_untouched(api, hub, mine, other)


# --- the same answer over SMPP ---------------------------------------------------------------------


@pytest.fixture
async def smsc() -> AsyncIterator[SmppSimulator]:
    async with SmppSimulator(system_id="hub", password="dev-smpp") as simulator:
        yield simulator


@pytest.fixture
async def smpp_hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    smsc: SmppSimulator,
) -> AsyncIterator[InProcessHub]:
    """The whole hub with SMPP as its only SMS provider (HUB_SMS_PROVIDERS=["smpp"])."""
    settings = {"sms_providers": ("smpp",), "smpp_port": smsc.port}
    async for running in start_hub(backend, tmp_path, clock, monkeypatch, **settings):
        yield running


async def test_an_smpp_3_from_the_citizen_reopens_the_right_case(
    smpp_hub: InProcessHub, smsc: SmppSimulator
) -> None:
    async def invited(case_no: str) -> None:
        await smsc.wait_until(
            lambda: any(case_no in m.text and "回复1满意" in m.text for m in smsc.received), timeout=30
        )

    api = Api(smpp_hub)
    mine_body, other_body = distinct(SECURITY, 43), distinct(SECURITY, 44)
    mine = await replied_and_invited(api, smpp_hub, mine_body, invited)
    other = await replied_and_invited(api, smpp_hub, other_body, invited)  # another citizen, invited too

    answer = await smsc.deliver_mo(mine_body["reporter"]["phone"], "3")  # a deliver_sm on the bind
    await smsc.wait_until(lambda: answer in smsc.mo_acknowledged, timeout=30)

    await reopened_and_the_other_untouched(api, smpp_hub, mine, other)
    assert await smpp_hub.sms_received() == []  # nothing went through the cloud provider
