"""The batcher (hub/messaging/batching.py) on a fake database: deliveries ready together share one
transaction; a failure rolls the group back and sends every member back alone; a group of one
behaves exactly as without batching."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from hub.messaging.batching import ALONE, Batcher
from hub.messaging.envelope import Event


class FakeDb:
    """Records each transaction's writes; commits them unless the block raised."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.rolled_back = 0
        self.inbox: set[str] = set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        session: dict[str, Any] = {"writes": [], "inbox": set()}
        await asyncio.sleep(0)  # opening a transaction awaits (a lock, a connection)
        try:
            yield session
        except BaseException:
            self.rolled_back += 1
            raise
        self.committed.append(session["writes"])
        self.inbox |= session["inbox"]


def _event(n: int) -> Event:
    return Event(type="x.v1", source="hub/test", subject=f"C{n}", data={}, id=f"e{n}")


def _batcher(db: FakeDb, size: int = 16) -> Batcher:
    async def claim_many(session: Any, events: list[tuple[str, str]]) -> set[str]:
        fresh = {event_id for event_id, _ in events} - db.inbox
        session["inbox"] |= fresh
        return fresh

    async def handle_one(session: Any, event: Event, run: Any) -> bool:
        if event.id in db.inbox:
            return False
        session["inbox"].add(event.id)
        await run(session, event)
        return True

    return Batcher(
        db,  # type: ignore[arg-type]
        size=size,
        window_s=0,
        claim_many=claim_many,
        handle_one=handle_one,
        before_commit=lambda: None,
    )


def _writer(fail: set[str] | None = None) -> Any:
    async def run(session: Any, event: Event) -> None:
        await asyncio.sleep(0)
        if event.id in (fail or set()):
            raise ValueError(f"bad {event.id}")
        session["writes"].append(event.id)

    return run


async def test_deliveries_ready_together_share_one_transaction() -> None:
    db = FakeDb()
    batcher = _batcher(db)
    results = await asyncio.gather(*(batcher.handle(_event(n), _writer()) for n in range(5)))
    assert results == [True] * 5
    assert db.committed == [["e0", "e1", "e2", "e3", "e4"]]  # one commit, delivery order
    assert batcher.batches == 1


async def test_a_group_never_exceeds_its_size() -> None:
    db = FakeDb()
    batcher = _batcher(db, size=2)
    await asyncio.gather(*(batcher.handle(_event(n), _writer()) for n in range(5)))
    assert sorted(len(c) for c in db.committed) == [1, 2, 2]
    assert sorted(e for c in db.committed for e in c) == [f"e{n}" for n in range(5)]


async def test_a_failing_member_sends_the_whole_group_back_alone_and_commits_nothing() -> None:
    db = FakeDb()
    batcher = _batcher(db)
    results = await asyncio.gather(
        *(batcher.handle(_event(n), _writer(fail={"e2"})) for n in range(4)), return_exceptions=True
    )
    assert results == [ALONE] * 4  # each handled again on its own by the consumer
    assert db.committed == [] and db.rolled_back == 1 and db.inbox == set()
    assert batcher.fallbacks == 1


async def test_a_group_of_one_raises_its_own_error() -> None:
    db = FakeDb()
    batcher = _batcher(db)
    with pytest.raises(ValueError, match="bad e7"):
        await batcher.handle(_event(7), _writer(fail={"e7"}))
    assert db.committed == [] and db.rolled_back == 1


async def test_redeliveries_and_twins_in_a_group_are_duplicates() -> None:
    db = FakeDb()
    db.inbox.add("e1")  # handled before
    batcher = _batcher(db)
    results = await asyncio.gather(
        batcher.handle(_event(0), _writer()),
        batcher.handle(_event(1), _writer()),
        batcher.handle(_event(0), _writer()),  # the same event twice in one group
    )
    assert results == [True, False, False]
    assert db.committed == [["e0"]]


async def test_a_member_cancelled_before_its_turn_fails_the_group_without_hanging_it() -> None:
    db = FakeDb()
    batcher = _batcher(db)
    first = asyncio.ensure_future(batcher.handle(_event(0), _writer()))
    second = asyncio.ensure_future(batcher.handle(_event(1), _writer()))
    third = asyncio.ensure_future(batcher.handle(_event(2), _writer()))
    await asyncio.sleep(0)
    second.cancel()
    done = await asyncio.wait_for(asyncio.gather(first, third, return_exceptions=True), timeout=5)
    assert list(done) == [ALONE, ALONE] and db.committed == []


async def test_later_arrivals_form_the_next_group() -> None:
    db = FakeDb()
    batcher = _batcher(db)
    gate = asyncio.Event()

    async def slow(session: Any, event: Event) -> None:
        await gate.wait()
        session["writes"].append(event.id)

    first = asyncio.ensure_future(batcher.handle(_event(0), slow))
    await asyncio.sleep(0.01)  # the first group is open in its transaction now
    later = [asyncio.ensure_future(batcher.handle(_event(n), _writer())) for n in (1, 2)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(first, *later) == [True, True, True]
    assert sorted(db.committed) == [["e0"], ["e1", "e2"]]
