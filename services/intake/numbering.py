"""Case numbers: ZZ-<business date>-<6-digit daily sequence>, unique across replicas."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from hub.upsert import upsert
from services.intake.tables import case_counters

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


def business_day(at: datetime) -> date:
    return at.astimezone(BUSINESS_TZ).date()


def format_case_no(day: date, seq: int) -> str:
    return f"ZZ-{day:%Y%m%d}-{seq:06d}"


async def next_case_no(session: AsyncSession, at: datetime) -> str:
    """Atomic upsert-increment: concurrent registrations (even on other replicas) get distinct numbers."""
    day = business_day(at)
    stmt = upsert(
        session, case_counters, ["day"], {"day": day, "last": 1}, update={"last": case_counters.c.last + 1}
    ).returning(case_counters.c.last)
    seq = (await session.execute(stmt)).scalar_one()
    return format_case_no(day, seq)
