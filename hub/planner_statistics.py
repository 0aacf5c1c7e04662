"""PostgreSQL's planner statistics kept current while a bulk load grows a table.

A table filled faster than autovacuum analyses it (or on a server with autovacuum off) has statistics
from when it was small. The back-fill's lookups (`channel = … AND source_ref IN (1,000 values)`) then
got a plan that reads every row with the channel and filters the list, instead of probing the unique
index: 1.4 s a lookup at 168,000 cases, and the 10^6 back-fill on PostgreSQL stalled (2026-12-06).
PostgreSQL's advice for bulk loads is to ANALYZE as the data grows. A table is analysed when the rows
loaded since its last ANALYZE reach the rows loaded before it (at least `floor`): log2(N) ANALYZEs for
N rows, each a sample of at most 30,000 rows. SQLite needs none of it: it probes the unique index for
an IN list whatever it knows of the table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Table, text

from hub.db import Database

log = logging.getLogger("hub.planner_statistics")


class GrowthAnalyzer:
    """Runs ANALYZE on `tables` as rows are loaded into them (PostgreSQL; a no-op elsewhere)."""

    def __init__(self, db: Database, tables: Sequence[Table], floor: int = 5_000) -> None:
        self._db = db
        self._names = [table.name for table in tables]  # our own tables' names, never input
        self._floor = floor
        self._loaded = 0  # rows loaded through this analyzer, all told
        self._analysed_at = 0  # `_loaded` at the last ANALYZE

    async def loaded(self, rows: int) -> None:
        """`rows` more rows are committed; analyse if the tables have grown enough since last time."""
        if not self._db.is_postgres or rows <= 0:
            return
        self._loaded += rows
        if self._loaded - self._analysed_at < max(self._floor, self._analysed_at):
            return
        self._analysed_at = self._loaded
        try:
            async with self._db.transaction() as session:
                for name in self._names:
                    await session.execute(text(f'ANALYZE "{name}"'))
        except Exception:  # statistics are an optimisation: the load goes on without them
            log.warning("ANALYZE of %s failed", ", ".join(self._names), exc_info=True)
