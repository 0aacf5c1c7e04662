"""Stalled items from every source, filtered and sorted (pure).

Kinds: `deadline` and `idle` (referral decides those, services/referral/domain/stalls.py), `outbox`
(an event not relayed in time), `dead_letter`, `adapter_delivery` (an outbound update to an external
system failing), `sms` (a message undelivered for good). Each carries its case number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

KINDS = ("deadline", "idle", "outbox", "dead_letter", "adapter_delivery", "sms")


@dataclass(frozen=True)
class Filters:
    department: str | None = None
    colour: str | None = None
    street: str | None = None
    min_overdue_minutes: int | None = None
    kind: str | None = None

    def keep(self, item: dict[str, Any]) -> bool:
        if self.kind and item["kind"] != self.kind:
            return False
        if self.department and not _department_matches(item.get("department"), self.department):
            return False
        if self.colour and item.get("colour") != self.colour:
            return False
        if self.street and not _street_matches(item.get("street_code"), self.street):
            return False
        return not (
            self.min_overdue_minutes is not None and item.get("overdue_minutes", 0) < self.min_overdue_minutes
        )


def _department_matches(value: str | None, wanted: str) -> bool:
    """A unit code (police_station@150203001000) or its department type (police_station)."""
    if not value:
        return False
    return value == wanted or value.split("@", 1)[0] == wanted


def _street_matches(value: str | None, wanted: str) -> bool:
    return bool(value) and (value == wanted or str(value).startswith(wanted))


def minutes_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


def select_stalled(items: Iterable[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """Filtered, most overdue first (then oldest), so the worst stall is at the top."""
    kept = [i for i in items if filters.keep(i)]
    kept.sort(key=lambda i: (-int(i.get("overdue_minutes") or 0), i["since"], i["case_no"]))
    return kept


def attach_last_handoff(items: Sequence[dict[str, Any]], last: dict[str, dict[str, Any]]) -> None:
    """Each item gets its case's latest timeline entry; the trace id falls back to it."""
    for item in items:
        handoff = last.get(item["case_no"])
        item["last_handoff"] = handoff
        if not item.get("trace_id") and handoff:
            item["trace_id"] = handoff.get("trace_id")


def enrich(items: Sequence[dict[str, Any]], cases: dict[str, dict[str, Any]]) -> None:
    """Non-deadline stalls learn their case's colour, category and street (for the filters)."""
    for item in items:
        known = cases.get(item["case_no"])
        if not known:
            continue
        for key in ("colour", "category", "street_code", "trace_id", "state"):
            if item.get(key) is None and known.get(key) is not None:
                item[key] = known[key]
