"""A bulk load keeps PostgreSQL's planner statistics current as it grows a table (hub/planner_statistics.py):
without them the back-fill's lookups by reference read every row (1.4 s each at 168,000 cases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, text

from hub.db import Database, create_engine_for
from hub.planner_statistics import GrowthAnalyzer
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings

pytestmark = pytest.mark.integration

scratch = Table("growth_scratch", MetaData(), Column("id", Integer, primary_key=True))


@pytest.fixture
async def db(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async with isolated_backends(backend) as (amqp_url, db_url):
        database = Database(create_engine_for(make_settings(tmp_path, amqp_url, db_url), "intake"))
        try:
            async with database.transaction() as session:
                if database.is_postgres:
                    await session.execute(text("CREATE SCHEMA IF NOT EXISTS intake"))
                await session.run_sync(lambda sync: scratch.create(sync.connection()))
            yield database
        finally:
            await database.dispose()


async def _rows_the_planner_knows(db: Database) -> float | None:
    """pg_class.reltuples (-1: never analysed); on SQLite, whether ANALYZE ever wrote its statistics."""
    async with db.sessions() as session:
        if db.is_postgres:
            return float(
                (
                    await session.execute(
                        text("SELECT reltuples FROM pg_class WHERE oid = 'growth_scratch'::regclass")
                    )
                ).scalar_one()
            )
        stats = await session.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
        return None if stats.scalar_one() == 0 else 1.0


async def test_a_growing_load_is_analysed_as_it_doubles_and_not_between(db: Database) -> None:
    analyzer = GrowthAnalyzer(db, (scratch,), floor=10)
    seen = []
    loaded = 0
    for _ in range(4):
        async with db.transaction() as session:
            await session.execute(insert(scratch), [{"id": loaded + i} for i in range(6)])
        loaded += 6
        await analyzer.loaded(6)
        seen.append(await _rows_the_planner_knows(db))
    if db.is_postgres:
        # 6 rows: under the floor; 12: analysed; 18: only 6 since (< 12 before it); 24: analysed again.
        assert seen == [-1.0, 12.0, 12.0, 24.0]
    else:  # SQLite probes the unique index for an IN list without statistics: nothing is analysed
        assert seen == [None] * 4
