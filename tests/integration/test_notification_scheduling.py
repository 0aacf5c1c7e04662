"""Quiet hours, the per-phone rate limit and opt-outs, decided with an explicit clock.

The handlers and the sender take the clock from bootstrap (default: now in UTC); here the clock is
a value the test moves, so "23:00 in Beijing" is a fact of the test, not of the machine. Deferred,
never dropped: every message held back goes out later, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hub.messaging.consumer import HandlerContext
from hub.messaging.envelope import Event
from hub.runtime import ServiceRuntime
from services.notification.contacts import ContactRegistry
from services.notification.domain.phones import national
from services.notification.domain.scheduling import SendingPolicy
from services.notification.domain.templates import load_default_catalog
from services.notification.handlers import NotificationHandlers
from services.notification.migrations import migrate
from services.notification.sender import Sender
from services.notification.sms.aliyun import AliyunSms
from services.notification.sms.simulator import create_app as create_sms_simulator
from services.notification.tables import deliveries, kit, metadata
from tests.integration.test_notification_kit import (
    CITIZEN,
    CITIZEN_2,
    UNLISTED,
    NotificationHub,
    case_no,
    dispatched,
    notification_hub,
    registered,
)
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import RunningApp, _serve, make_settings
from tests.kit.waiting import eventually


@pytest.fixture
async def notif(spans: Any, backend: str, tmp_path: Path) -> AsyncIterator[NotificationHub]:
    async with notification_hub(backend, tmp_path) as hub:
        yield hub


BEIJING = ZoneInfo("Asia/Shanghai")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, local: str) -> None:
        """Move to a Beijing wall-clock time, e.g. "2026-11-23 08:00"."""
        self.now = datetime.fromisoformat(local).replace(tzinfo=BEIJING).astimezone(UTC)


@dataclass
class Ledger:
    """Handlers and sender of the notification service on a database, driven by the test's clock."""

    rt: ServiceRuntime
    handlers: NotificationHandlers
    sender: Sender
    clock: Clock
    sim: RunningApp

    async def handle(self, event: Event) -> None:
        handler = self.handlers.table()[event.type]
        async with self.rt.db.transaction() as session:
            await handler(HandlerContext(session, event, self.rt.outbox))

    async def rows(self) -> list[Any]:
        async with self.rt.db.sessions() as session:
            return list(await session.execute(select(deliveries).order_by(deliveries.c.created_at)))

    async def sms(self) -> list[dict[str, Any]]:
        async with http_client() as client:
            items: list[dict[str, Any]] = (await client.get(f"{self.sim.url}/_sim/received")).json()["items"]
            return items

    async def send_due(self) -> int:
        """Run the sender until nothing more is due at the clock's time."""
        total = 0
        while n := await self.sender.send_due():
            total += n
        return total


@pytest.fixture
async def ledger(spans: Any, backend: str, tmp_path: Path) -> AsyncIterator[Ledger]:
    async with isolated_backends(backend) as (amqp_url, db_url):
        settings = make_settings(tmp_path, amqp_url, db_url)
        await asyncio.to_thread(migrate, settings)
        sim = await _serve(create_sms_simulator(settings.sms_access_key_secret, {settings.sms_sign_name}))
        rt = ServiceRuntime("notification", settings, metadata, kit)
        clock = Clock(datetime(2026, 11, 22, 12, 0, tzinfo=UTC))
        policy = SendingPolicy()  # RULES.md defaults: quiet 21:00–08:00 Beijing, red exempt, 5 per hour
        catalog = load_default_catalog()
        client = http_client()
        try:
            handlers = NotificationHandlers(
                cipher=rt.cipher,
                hash_key=settings.hash_key,
                catalog=catalog,
                contacts=ContactRegistry(),
                policy=policy,
                clock=clock,
            )
            provider = AliyunSms(client, sim.url, settings.sms_access_key_id, settings.sms_access_key_secret)
            sender = Sender(rt, [provider], catalog, policy=policy, clock=clock)
            yield Ledger(rt, handlers, sender, clock, sim)
        finally:
            await client.aclose()
            await rt.db.dispose()
            sim.server.should_exit = True
            await asyncio.wait_for(sim.task, timeout=15)


class _Hub:
    """Enough of NotificationHub for the event builders (cipher and hash key)."""

    def __init__(self, ledger: Ledger) -> None:
        self.runtime = ledger.rt
        self.settings = ledger.rt.settings


async def _case(ledger: Ledger, n: int, colour: str, phone: str = CITIZEN) -> str:
    case = case_no(100 + n)
    await ledger.handle(registered(_Hub(ledger), case, phone, colour))  # type: ignore[arg-type]
    await ledger.handle(dispatched(case, UNLISTED, "lead", colour))
    return case


async def test_a_blue_case_at_2300_beijing_is_sent_at_0800_and_a_red_one_at_once(ledger: Ledger) -> None:
    ledger.clock.set("2026-11-22 23:00")
    blue = await _case(ledger, 1, "blue")
    red = await _case(ledger, 2, "red", CITIZEN_2)
    due = {r.case_no: r.not_before.astimezone(BEIJING) for r in await ledger.rows()}
    assert due[blue] == datetime(2026, 11, 23, 8, 0, tzinfo=BEIJING)  # deferred, not dropped
    assert due[red] == datetime(2026, 11, 22, 23, 0, tzinfo=BEIJING)  # red is exempt

    assert await ledger.send_due() == 1
    assert [m["out_id"] for m in await ledger.sms()] == [
        r.id for r in await ledger.rows() if r.case_no == red
    ]

    ledger.clock.set("2026-11-23 07:59:59")
    assert await ledger.send_due() == 0

    ledger.clock.set("2026-11-23 08:00")
    assert await ledger.send_due() == 1
    sms = await ledger.sms()
    assert len(sms) == 2 and blue in sms[1]["text"]
    sent_at = {r.case_no: r.sent_at.astimezone(BEIJING) for r in await ledger.rows()}
    print(
        f"\nquiet hours: red sent {sent_at[red]:%m-%d %H:%M}, blue sent {sent_at[blue]:%m-%d %H:%M} (Beijing)"
    )
    assert sent_at[blue] == datetime(2026, 11, 23, 8, 0, tzinfo=BEIJING)


async def test_the_sender_rechecks_quiet_hours_for_a_row_that_became_due_before_2100(ledger: Ledger) -> None:
    ledger.clock.set("2026-11-22 20:59")
    case = await _case(ledger, 3, "yellow")
    ledger.clock.set("2026-11-22 21:01")  # the sender comes round after 21:00
    assert await ledger.send_due() == 0
    (row,) = await ledger.rows()
    assert row.status == "pending" and row.not_before.astimezone(BEIJING).hour == 8
    ledger.clock.set("2026-11-23 08:00")
    assert await ledger.send_due() == 1
    assert case in (await ledger.sms())[0]["text"]


async def test_the_sixth_sms_to_one_phone_within_an_hour_waits_for_the_window(ledger: Ledger) -> None:
    ledger.clock.set("2026-11-23 10:00")
    cases = [await _case(ledger, 10 + i, "blue") for i in range(7)]
    due = [r.not_before.astimezone(BEIJING).strftime("%H:%M") for r in await ledger.rows()]
    assert due == ["10:00"] * 5 + ["11:00"] * 2
    assert await ledger.send_due() == 5
    ledger.clock.set("2026-11-23 10:59")
    assert await ledger.send_due() == 0
    ledger.clock.set("2026-11-23 11:00")
    assert await ledger.send_due() == 2
    sms = await ledger.sms()
    assert sorted(c for c in cases if any(c in m["text"] for m in sms)) == sorted(cases)  # none dropped
    print(f"\nrate limit 5/h: {len(sms)} SMS, the last two at 11:00")


async def test_the_sender_enforces_the_rate_limit_on_rows_it_did_not_plan(ledger: Ledger) -> None:
    # Six rows due at once for one phone (say, written before the limit was lowered): five go now.
    ledger.clock.set("2026-11-23 10:00")
    for i in range(6):
        await _case(ledger, 20 + i, "blue")
    async with ledger.rt.db.transaction() as session:
        await session.execute(deliveries.update().values(not_before=ledger.clock()))
    assert await ledger.send_due() == 5
    waiting = [r for r in await ledger.rows() if r.status == "pending"]
    assert len(waiting) == 1 and waiting[0].not_before.astimezone(BEIJING).strftime("%H:%M") == "11:00"


async def test_an_opted_out_phone_gets_nothing_and_the_row_says_why(ledger: Ledger) -> None:
    from services.notification.inbound import InboundReplies

    ledger.clock.set("2026-11-23 10:00")
    await InboundReplies(ledger.rt, ledger.clock).opt_out(national(CITIZEN))
    case = await _case(ledger, 30, "red")
    other = await _case(ledger, 31, "red", CITIZEN_2)
    assert await ledger.send_due() == 1
    status = {r.case_no: r.status for r in await ledger.rows()}
    assert status == {case: "opted_out", other: "sent"}
    assert [other in m["text"] for m in await ledger.sms()] == [True]


async def test_an_opt_out_after_the_row_was_written_is_honoured_by_the_sender(ledger: Ledger) -> None:
    from services.notification.inbound import InboundReplies

    ledger.clock.set("2026-11-22 23:30")
    await _case(ledger, 32, "blue")  # deferred to 08:00
    await InboundReplies(ledger.rt, ledger.clock).opt_out(CITIZEN)
    ledger.clock.set("2026-11-23 08:00")
    assert await ledger.send_due() == 0
    assert [r.status for r in await ledger.rows()] == ["opted_out"]
    assert await ledger.sms() == []


async def test_opt_out_api_stores_only_a_keyed_hash_and_never_echoes_the_number(
    notif: NotificationHub,
) -> None:
    from services.notification.tables import opt_outs

    response = await notif.post("notification", "/internal/v1/opt-outs", json={"phone": national(CITIZEN)})
    assert response.status_code == 201 and response.json() == {"opted_out": True}
    bad = await notif.post("notification", "/internal/v1/opt-outs", json={"phone": "12345"})
    assert bad.status_code == 422 and "12345" not in bad.text
    async with notif.runtime.db.sessions() as session:
        stored = list(await session.execute(select(opt_outs)))
    assert len(stored) == 1 and national(CITIZEN) not in str(tuple(stored[0]))

    case, other = case_no(33), case_no(34)
    await notif.publish(registered(notif, case, CITIZEN))
    await notif.publish(registered(notif, other, CITIZEN_2))
    await notif.publish(dispatched(case, UNLISTED))
    await notif.publish(dispatched(other, UNLISTED))
    await eventually(lambda: notif.sms(case_no=other), what="the other citizen's SMS")
    await notif.quiescent()
    assert await notif.sms(case_no=case) == []
    async with http_client() as client:
        listing = (
            await client.get(
                f"{notif.url}/internal/v1/deliveries",
                params={"status": "opted_out"},
                headers=as_actor("notification"),
            )
        ).json()
    assert [d["case_no"] for d in listing["items"]] == [case]
    assert national(CITIZEN) not in str(listing)
