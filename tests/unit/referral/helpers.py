"""Explicit business-time instants for the referral tests (no test reads the real clock)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An Asia/Shanghai wall-clock instant (business time)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)
