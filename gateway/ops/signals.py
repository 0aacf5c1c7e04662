"""Weak-signal early warning (弱信号风险预警), pure: bursts and repeat reporters.

- burst: at least `threshold` cases of the same category in the same grid (or the same street)
  within any `window`; reported once per (scope, area, category) with its densest window;
- repeat reporter: one reporter key (a keyed hash, never a phone number) with at least
  `repeat_threshold` cases within `repeat_window`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Signal:
    case_no: str
    at: datetime
    category: str
    street_code: str | None
    grid_code: str | None
    reporter_key: str | None


def densest_window(items: list[Signal], window: timedelta) -> list[Signal]:
    """The largest run of items (sorted by time) that fits in `window`."""
    best: tuple[int, int] = (0, 0)
    start = 0
    for end in range(len(items)):
        while items[end].at - items[start].at > window:
            start += 1
        if end + 1 - start > best[1] - best[0]:
            best = (start, end + 1)
    return items[best[0] : best[1]]


def bursts(signals: Iterable[Signal], window: timedelta, threshold: int) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[Signal]] = defaultdict(list)
    for s in signals:
        if s.grid_code:
            groups[("grid", s.grid_code, s.category)].append(s)
        if s.street_code:
            groups[("street", s.street_code, s.category)].append(s)
    alerts = []
    for (scope, area, category), items in sorted(groups.items()):
        items.sort(key=lambda s: (s.at, s.case_no))
        run = densest_window(items, window)
        if len(run) >= threshold:
            alerts.append(
                {
                    "kind": "burst",
                    "scope": scope,
                    "area_code": area,
                    "category": category,
                    "count": len(run),
                    "first_at": run[0].at,
                    "last_at": run[-1].at,
                    "case_nos": [s.case_no for s in run],
                }
            )
    return alerts


def repeat_reporters(signals: Iterable[Signal], window: timedelta, threshold: int) -> list[dict[str, Any]]:
    groups: dict[str, list[Signal]] = defaultdict(list)
    for s in signals:
        if s.reporter_key:
            groups[s.reporter_key].append(s)
    alerts = []
    for key, items in sorted(groups.items()):
        items.sort(key=lambda s: (s.at, s.case_no))
        run = densest_window(items, window)
        if len(run) >= threshold:
            alerts.append(
                {
                    "kind": "repeat_reporter",
                    "reporter_key": key,
                    "count": len(run),
                    "categories": sorted({s.category for s in run}),
                    "first_at": run[0].at,
                    "last_at": run[-1].at,
                    "case_nos": [s.case_no for s in run],
                }
            )
    return alerts
