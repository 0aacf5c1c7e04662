"""UTC everywhere below the edge: times coming in are made UTC once, times stored come back aware UTC.

Business time (Asia/Shanghai) is a presentation and calendar concern; what is stored and compared is
UTC. SQLite keeps no offset and hands back naive values, so the column type restores it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, TypeDecorator
from sqlalchemy.engine import Dialect


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive time is refused (its zone cannot be known)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime: the hub needs timezone-aware times (stored as UTC)")
    return moment.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend; the DDL is DateTime(timezone=True)'s."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
