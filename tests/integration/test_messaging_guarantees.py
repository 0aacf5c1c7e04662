"""Redelivered events change nothing; poison messages are dead-lettered and the consumer goes on."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import aio_pika
from sqlalchemy import select

from hub.contracts.intake import CaseRegisteredV1, ReporterContact, reporter_phone_aad
from hub.crypto import keyed_hash
from hub.messaging.envelope import Event
from hub.messaging.publisher import Publisher, connect
from services.referral.tables import referrals
from tests.integration.test_walking_skeleton import post_case
from tests.kit.auth import authed_hub
from tests.kit.inprocess import InProcessHub
from tests.kit.quiescence import wait_quiescent
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

__all__ = ["authed_hub"]  # a fixture: pytest finds it under this name in the module


def registered_event(hub: InProcessHub, case_no: str) -> Event:
    phone = "13900001111"
    data = CaseRegisteredV1(
        case_no=case_no,
        channel="phone",
        request_type="help",
        category="noise",
        title="夜间施工噪声扰民",
        colour="blue",
        response_level="immediate",
        registered_at=datetime.now(UTC),
        reporter=ReporterContact(
            phone_enc=hub.runtime("intake").cipher.encrypt(phone, aad=reporter_phone_aad(case_no)),
            phone_hash=keyed_hash(hub.settings.hash_key, phone),
            sms_capable=True,
        ),
    )
    return Event(type=data.TYPE, source="hub/intake", subject=case_no, data=data.model_dump(mode="json"))


async def publish(hub: InProcessHub, body: bytes, routing_key: str, message_id: str) -> None:
    connection = await connect(hub.settings)
    try:
        publisher = Publisher(connection, hub.settings)
        await publisher.start()
        await publisher.publish(body, routing_key, message_id=message_id)
    finally:
        await connection.close()


async def referrals_per_department(hub: InProcessHub, case_no: str) -> Counter[str]:
    """How many referrals each department got for the case (routing may name several departments)."""
    async with hub.runtime("referral").db.sessions() as session:
        rows = await session.execute(select(referrals.c.department).where(referrals.c.case_no == case_no))
        return Counter(department for (department,) in rows)


async def test_same_event_delivered_twice_gives_one_referral_and_one_sms(authed_hub: InProcessHub) -> None:
    hub = authed_hub
    event = registered_event(hub, "ZZ-20261122-900001")
    for _ in range(2):
        await publish(hub, event.to_json(), event.type, event.id)
    await eventually(lambda: referrals_per_department(hub, event.subject or ""), what="referral")
    await eventually(hub.sms_received, what="SMS")
    await wait_quiescent(hub.settings)
    per_department = await referrals_per_department(hub, "ZZ-20261122-900001")
    assert per_department and set(per_department.values()) == {1}  # dispatched once to each department
    assert len(acceptance(await hub.sms_received(), "ZZ-20261122-900001")) == 1
    consumer = next(c for c in hub.runtime("referral").consumers if c.spec.name == "referral.case-events")
    assert consumer.duplicates >= 1  # the second copy reached the consumer and was absorbed by the inbox


async def test_malformed_message_is_dead_lettered_with_reason_and_consuming_continues(
    authed_hub: InProcessHub,
) -> None:
    hub = authed_hub
    await publish(hub, b"{not json at all", "case.registered.v1", "poison-1")
    incomplete = Event(
        type="case.registered.v1", source="hub/intake", subject="ZZ-X", data={"case_no": "ZZ-X"}
    )
    await publish(hub, incomplete.to_json(), incomplete.type, incomplete.id)

    connection = await aio_pika.connect(hub.settings.amqp_url)
    try:
        channel = await connection.channel()
        dlq = await channel.declare_queue("referral.case-events.dlq", passive=True)

        async def dead() -> list[aio_pika.abc.AbstractIncomingMessage]:
            got = []
            while (message := await dlq.get(no_ack=True, fail=False)) is not None:
                got.append(message)
            return got

        seen: list[aio_pika.abc.AbstractIncomingMessage] = []

        async def collect() -> int:
            seen.extend(await dead())
            return len(seen)

        await eventually(collect, until=lambda n: n >= 2, what="two dead-lettered messages")
    finally:
        await connection.close()
    reasons = {m.message_id: str((m.headers or {}).get("x-hub-death-reason")) for m in seen}
    assert "not a CloudEvents JSON event" in reasons["poison-1"]
    assert "invalid event data" in reasons[incomplete.id] and "reporter" in reasons[incomplete.id]

    # The consumer is still consuming: a good case after the poison goes all the way.
    response = await post_case(hub)
    case_no = response.json()["case_no"]
    dispatched = await eventually(
        lambda: referrals_per_department(hub, case_no), what="dispatch after poison"
    )
    assert set(dispatched.values()) == {1}
