"""Statistics of the centre (pure arithmetic over case facts): received, dispatched, mediated, closed,
closure rate (办结率) and satisfaction rate, by category, street, department or month.

Definitions (docs/operations.md):
- received: cases registered in the period; dispatched: of those, sent to at least one department;
- mediated: the lead department replied `mediated`; closed: status `closed` (销号);
- closure rate = closed / received; satisfaction rate = (satisfied + basically satisfied) / rated.
Rates are None when their denominator is zero (never a made-up 0% or 100%).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")
DIMENSIONS = ("category", "street", "department", "month", "day")
SATISFIED = ("satisfied", "basically_satisfied")
NONE_KEY = "-"


@dataclass
class Figures:
    received: int = 0
    dispatched: int = 0
    mediated: int = 0
    closed: int = 0
    rated: int = 0
    satisfied: int = 0
    overdue: int = 0

    def add(self, fact: dict[str, Any]) -> None:
        self.received += 1
        self.dispatched += bool(fact.get("dispatched"))
        self.mediated += fact.get("reply_outcome") == "mediated"
        self.closed += fact.get("status") == "closed"
        self.overdue += bool(fact.get("overdue"))
        if fact.get("satisfaction"):
            self.rated += 1
            self.satisfied += fact["satisfaction"] in SATISFIED

    @property
    def closure_rate(self) -> float | None:
        return rate(self.closed, self.received)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.satisfied, self.rated)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "dispatched": self.dispatched,
            "mediated": self.mediated,
            "closed": self.closed,
            "overdue": self.overdue,
            "rated": self.rated,
            "closure_rate": self.closure_rate,
            "satisfaction_rate": self.satisfaction_rate,
        }


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def month_of(when: datetime) -> str:
    return when.astimezone(LOCAL).strftime("%Y-%m")


def day_of(when: datetime) -> str:
    return when.astimezone(LOCAL).strftime("%Y-%m-%d")


def _as_dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


KEYS: dict[str, Callable[[dict[str, Any]], str]] = {
    "category": lambda f: f.get("category") or NONE_KEY,
    "street": lambda f: f.get("street_code") or NONE_KEY,
    "department": lambda f: f.get("lead_department") or NONE_KEY,
    "month": lambda f: month_of(_as_dt(f["registered_at"])),
    "day": lambda f: day_of(_as_dt(f["registered_at"])),  # Beijing days: the dashboard's trend
}


def stats_by(facts: Iterable[dict[str, Any]], by: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows (one per key, sorted) and the total over all facts."""
    key = KEYS[by]
    groups: dict[str, Figures] = defaultdict(Figures)
    total = Figures()
    for fact in facts:
        groups[key(fact)].add(fact)
        total.add(fact)
    rows = [{"key": k, **groups[k].as_dict()} for k in sorted(groups)]
    return rows, total.as_dict()


def summary(facts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    by_colour: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    total = Figures()
    for fact in facts:
        by_status[fact["status"]] += 1
        by_colour[fact["colour"]] += 1
        by_channel[fact["channel"]] += 1
        total.add(fact)
    return {
        "total": total.received,
        "by_status": dict(sorted(by_status.items())),
        "by_colour": dict(sorted(by_colour.items())),
        "by_channel": dict(sorted(by_channel.items())),
        "open": total.received
        - sum(by_status[s] for s in ("closed", "merged", "withdrawn", "returned_to_channel")),
        **total.as_dict(),
    }


def month_range(month: str) -> tuple[datetime, datetime]:
    """'2026-03' → [local start of March, local start of April)."""
    year, mon = (int(p) for p in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=LOCAL)
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=LOCAL)
    return start, end
