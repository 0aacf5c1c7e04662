"""The kit's SQL pieces: the dialect's INSERT … ON CONFLICT and the aware-UTC column type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from hub.upsert import upsert
from hub.utc import UtcDateTime, as_utc

metadata = MetaData()
counters = Table(
    "counters",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("last", Integer, nullable=False),
    Column("at", UtcDateTime()),
)


def _session(url: str) -> AsyncSession:
    return AsyncSession(bind=create_async_engine(url))  # never connects: only the dialect is read


@pytest.mark.parametrize("url", ["sqlite+aiosqlite://", "postgresql+asyncpg://hub@localhost/hub"])
def test_upsert_does_nothing_or_updates_for_the_sessions_dialect(url: str) -> None:
    session = _session(url)
    dialect = session.bind.dialect  # type: ignore[union-attr]
    ignore = upsert(session, counters, ["day"], {"day": "d", "last": 1}).returning(counters.c.last)
    assert "ON CONFLICT (day) DO NOTHING" in str(ignore.compile(dialect=dialect))
    add = upsert(session, counters, ["day"], {"day": "d", "last": 1}, update={"last": counters.c.last + 1})
    assert "ON CONFLICT (day) DO UPDATE SET last = (counters.last +" in str(add.compile(dialect=dialect))
    keep = upsert(
        session, counters, ["day"], update=lambda new: {"last": func.max(counters.c.last, new.last)}
    )
    assert "excluded.last" in str(keep.compile(dialect=dialect))


def test_utc_datetime_reads_back_aware_utc_on_sqlite() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    shanghai = timezone(timedelta(hours=8))
    with engine.begin() as conn:
        conn.execute(insert(counters).values(day="d", last=1, at=datetime(2026, 3, 2, 8, 0, tzinfo=shanghai)))
        stored = conn.execute(select(counters.c.at)).scalar_one()
    assert stored == datetime(2026, 3, 2, 0, 0, tzinfo=UTC) and stored.tzinfo is UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        as_utc(datetime(2026, 3, 2))
    assert as_utc(datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=8)))) == datetime(
        2026, 3, 2, tzinfo=UTC
    )
