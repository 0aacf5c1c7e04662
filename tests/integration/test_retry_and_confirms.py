"""Delayed retry through TTL wait queues, giving up into the DLQ, and unroutable publishes raising."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import pytest

from hub.contracts.referral import ReferralDispatchedV1
from hub.messaging.consumer import EventConsumer
from hub.messaging.envelope import Event
from hub.messaging.publisher import Publisher, connect
from tests.integration.test_messaging_guarantees import publish, registered_event
from tests.kit.auth import authed_hub
from tests.kit.infra import fresh_vhost
from tests.kit.inprocess import InProcessHub, make_settings
from tests.kit.quiescence import wait_quiescent
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module


def dispatched_event(case_no: str) -> Event:
    now = datetime.now(UTC)
    data = ReferralDispatchedV1(
        referral_id=str(uuid.uuid4()),
        case_no=case_no,
        department="community@150203001000",
        role="lead",
        colour="blue",
        category="noise",
        ack_due_at=now + timedelta(days=1),
        due_at=now + timedelta(days=3),
    )
    return Event(type=data.TYPE, source="hub/referral", subject=case_no, data=data.model_dump(mode="json"))


def notification_consumer(hub: InProcessHub) -> EventConsumer:
    return next(c for c in hub.runtime("notification").consumers if c.spec.name == "notification.events")


async def _retried(consumer: EventConsumer) -> int:
    return consumer.retried


async def test_event_ahead_of_its_prerequisite_waits_and_then_succeeds(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    case_no = "ZZ-20261122-800001"
    dispatched = dispatched_event(case_no)
    await publish(hub, dispatched.to_json(), dispatched.type, dispatched.id)
    consumer = notification_consumer(hub)
    await eventually(lambda: _retried(consumer), what="a delayed retry")  # contact not known yet

    registered = registered_event(hub, case_no)
    await publish(hub, registered.to_json(), registered.type, registered.id)
    await eventually(hub.sms_received, until=lambda items: acceptance(items, case_no), what="SMS after retry")
    await wait_quiescent(hub.settings)
    assert len(acceptance(await hub.sms_received(), case_no)) == 1


async def test_event_that_never_becomes_handleable_is_dead_lettered_after_the_last_delay(
    authed_hub: InProcessHub,
) -> None:
    hub = authed_hub
    dispatched = dispatched_event("ZZ-20261122-800002")
    await publish(hub, dispatched.to_json(), dispatched.type, dispatched.id)
    connection = await aio_pika.connect(hub.settings.amqp_url)
    try:
        channel = await connection.channel()
        dlq = await channel.declare_queue("notification.events.dlq", passive=True)
        message = await eventually(
            lambda: dlq.get(no_ack=True, fail=False),
            what="dead-lettered after retries",
            timeout=sum(hub.settings.retry_delays_ms) / 1000 + 20,
        )
    finally:
        await connection.close()
    assert message.message_id == dispatched.id
    reason = str((message.headers or {})["x-hub-death-reason"])
    assert reason.startswith(f"gave up after {len(hub.settings.retry_delays_ms)} retries")
    assert "case contact not known yet" in reason


async def test_unroutable_event_raises_instead_of_vanishing(tmp_path: Path) -> None:
    # A broker with the exchanges but no queue bound: in a running hub the timeline binds "#".
    async with fresh_vhost() as amqp_url:
        settings = make_settings(tmp_path, amqp_url, None)
        connection = await connect(settings)
        try:
            publisher = Publisher(connection, settings)
            await publisher.start()
            with pytest.raises(aio_pika.exceptions.PublishError):
                await publisher.publish(b"{}", "nobody.listens.v1", message_id="orphan-1")
        finally:
            await connection.close()
