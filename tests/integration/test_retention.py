"""Retention (issue 16): relayed outbox rows and inbox records past their age are deleted, in batches;
unpublished outbox rows never are, whatever their age; recent rows stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from hub.messaging.retention import BATCH, purge_once
from tests.kit.inprocess import InProcessHub

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def _outbox_row(created: datetime, published: datetime | None) -> dict[str, object]:
    row: dict[str, object] = {
        "event_id": uuid.uuid4().hex,
        "type": "test.retention.v1",
        "subject": None,
        "body": "{}",
        "created_at": created,
        "published_at": published,
    }
    if published is None:
        # Stuck unpublished (held by a relay's lease): the running relay must not publish it meanwhile.
        row |= {"claim_token": "stuck", "claimed_until": datetime.now(UTC) + timedelta(days=1)}
    return row


async def test_rows_past_retention_are_purged_and_unpublished_ones_never(hub: InProcessHub) -> None:
    rt = hub.runtime("intake")
    outbox, inbox = rt.kit.outbox, rt.kit.inbox
    old, recent = NOW - timedelta(days=40), NOW - timedelta(hours=1)
    async with rt.db.transaction() as session:
        # More old relayed rows than one batch: the purge goes on until none is left.
        await session.execute(insert(outbox), [_outbox_row(old, old) for _ in range(BATCH + 5)])
        await session.execute(insert(outbox), [_outbox_row(recent, recent)])
        await session.execute(insert(outbox), [_outbox_row(old, None)])
        await session.execute(
            insert(inbox),
            [
                {"consumer": c, "event_id": uuid.uuid4().hex, "event_type": "t", "processed_at": at}
                for c in ("a", "b")
                for at in [old] * 3 + [recent]
            ],
        )

    purged = await purge_once(rt.db, rt.kit, outbox_days=7, inbox_days=30, now=NOW)

    assert (purged.outbox, purged.inbox) == (BATCH + 5, 6)
    async with rt.db.sessions() as session:
        mine = outbox.c.type == "test.retention.v1"
        left = (await session.execute(select(outbox.c.created_at, outbox.c.published_at).where(mine))).all()
        assert sorted((r.published_at is None, r.created_at) for r in left) == [(False, recent), (True, old)]
        assert (await session.execute(select(func.count()).select_from(inbox))).scalar_one() >= 2
        stale = select(func.count()).select_from(inbox).where(inbox.c.processed_at < NOW - timedelta(days=30))
        assert (await session.execute(stale)).scalar_one() == 0
    again = await purge_once(rt.db, rt.kit, outbox_days=7, inbox_days=30, now=NOW)
    assert (again.outbox, again.inbox) == (0, 0)
