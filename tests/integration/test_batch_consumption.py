"""Batch consumption (HUB_CONSUMER_BATCH): deliveries that are ready together share one transaction,
and every guarantee of one transaction per delivery holds: a poison message, an event that must wait
and a redelivered event in the same batch neither lose nor duplicate the others; each message keeps
one consumer span of its own."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from hub.messaging.consumer import EventConsumer
from hub.messaging.envelope import Event
from services.notification.tables import contacts
from tests.integration.test_messaging_guarantees import publish, registered_event
from tests.integration.test_retry_and_confirms import dispatched_event
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.quiescence import queue_depths
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration
HANDLE = "notification.events handle case.registered.v1"


@pytest.fixture
async def batching_hub(
    spans: InMemorySpanExporter, backend: str, tmp_path: Path
) -> AsyncIterator[InProcessHub]:
    """The hub in-process with a collection window long enough that a burst is one batch."""
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(
            make_settings(tmp_path, amqp_url, db_url, consumer_batch=16, consumer_batch_window_ms=300)
        ) as running,
    ):
        yield running


def _consumer(hub: InProcessHub) -> EventConsumer:
    return next(c for c in hub.runtime("notification").consumers if c.spec.name == "notification.events")


async def _publish_all(hub: InProcessHub, events: list[Event]) -> None:
    for event in events:
        await publish(hub, event.to_json(), event.type, event.id)


async def _contacts(hub: InProcessHub, case_nos: list[str]) -> Counter[str]:
    async with hub.runtime("notification").db.sessions() as session:
        rows = await session.execute(
            select(contacts.c.case_no, func.count())
            .where(contacts.c.case_no.in_(case_nos))
            .group_by(contacts.c.case_no)
        )
        return Counter({case_no: n for case_no, n in rows})


async def test_a_batch_with_a_poison_a_waiting_and_a_duplicate_event_loses_and_duplicates_nothing(
    batching_hub: InProcessHub, spans: InMemorySpanExporter
) -> None:
    hub = batching_hub
    consumer = _consumer(hub)
    assert consumer.batcher is not None and consumer.batcher.size == 16

    # A clean burst: one batch (or a few), every event handled once.
    # Case numbers of this run only: the span exporter lives for the whole session.
    base = 100_000 + secrets.randbelow(800_000) // 100 * 100
    clean = [registered_event(hub, f"ZZ-20261129-{base + i}") for i in range(8)]
    await _publish_all(hub, clean)
    await eventually(lambda: _handled(hub, clean), until=lambda n: n == 8, what="the clean burst")
    assert consumer.batcher.batches >= 1, "the burst was never batched"

    # A burst with a poison event (invalid data: dead-lettered), one that can never be handled (its
    # case is unknown: retried, then dead-lettered) and a redelivery of an event already handled.
    mixed_ok = [registered_event(hub, f"ZZ-20261129-{base + 50 + i}") for i in range(6)]
    poison = Event(type="case.registered.v1", source="hub/intake", subject="ZZ-X", data={"case_no": "ZZ-X"})
    waiting = dispatched_event(f"ZZ-20261129-{base + 99}")
    await _publish_all(hub, [*mixed_ok[:3], poison, clean[0], waiting, *mixed_ok[3:]])
    await eventually(lambda: _handled(hub, mixed_ok), until=lambda n: n == 6, what="the mixed burst")
    await eventually(
        lambda: _dead_lettered(consumer),
        until=lambda n: n >= 2,
        what="poison and never-handleable",
        timeout=30,
    )
    await eventually(lambda: _duplicates(consumer), until=lambda n: n >= 1, what="the redelivery absorbed")
    # (Not wait_quiescent: these cases share one phone, so the per-phone limit defers their SMS.)
    # Nothing left in the queue, ready or held (the depth counts deliveries still being handled too).
    await eventually(
        lambda: queue_depths(hub.settings.amqp_url),
        until=lambda depths: depths["notification.events"] == 0,
        what="notification.events drained",
    )

    # (The counters also count the referral events these cases cause: the inbox tells ours apart.)
    assert await _handled(hub, [poison, waiting]) == 0
    assert consumer.dead_lettered == 2 and consumer.retried >= 1
    assert consumer.batcher.fallbacks >= 1, "the poison's batch was never rolled back"
    case_nos = [e.subject or "" for e in clean + mixed_ok]
    assert await _contacts(hub, case_nos) == Counter(dict.fromkeys(case_nos, 1))

    # One consumer span per handled delivery, each in its own message's trace, parented as without
    # batching (under the aio-pika receive span of that message).
    handled = [s for s in spans.get_finished_spans() if s.name == HANDLE]
    per_case = Counter(str((s.attributes or {}).get("hub.case_no")) for s in handled)
    for case_no in case_nos:
        expected = 2 if case_no == clean[0].subject else 1  # the redelivery has its own span
        assert per_case[case_no] == expected, (case_no, per_case[case_no])
    assert all(s.parent is not None for s in handled)
    by_id = {s.context.span_id: s for s in spans.get_finished_spans()}
    for span in handled:
        assert span.parent is not None
        receive = by_id.get(span.parent.span_id)
        assert receive is not None and receive.context.trace_id == span.context.trace_id
    assert len({s.context.trace_id for s in handled}) == len(handled)  # each message its own trace


async def _handled(hub: InProcessHub, events: list[Event]) -> int:
    """How many of `events` notification's inbox records as handled."""
    rt = hub.runtime("notification")
    inbox = rt.kit.inbox
    async with rt.db.sessions() as session:
        found = await session.execute(
            select(func.count()).where(
                inbox.c.consumer == "notification.events", inbox.c.event_id.in_([e.id for e in events])
            )
        )
        return int(found.scalar_one())


async def _dead_lettered(consumer: EventConsumer) -> int:
    return consumer.dead_lettered


async def _duplicates(consumer: EventConsumer) -> int:
    return consumer.duplicates
