"""Case numbers: ZZ-<business date>-<6-digit daily sequence>, unique across replicas."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.tables import case_counters

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def business_day(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def format_case_no(day: date, seq: int) -> str:
    return f"ZZ-{day:%Y%m%d}-{seq:06d}"


async def next_case_no(session: AsyncSession, at: datetime) -> str:
    """Atomic upsert-increment: concurrent registrations (even on other replicas) get distinct numbers."""
    day = business_day(at)
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    base = insert(case_counters).values(day=day, last=1)
    stmt = base.on_conflict_do_update(
        index_elements=["day"], set_={"last": case_counters.c.last + 1}
    ).returning(case_counters.c.last)
    seq = (await session.execute(stmt)).scalar_one()
    return format_case_no(day, seq)
