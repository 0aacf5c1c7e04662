"""Weak-signal early warning (弱信号风险预警), incremental: where a newly registered case goes.

Two kinds of signal, each counted per *key*:
- burst: cases of one category in one grid, or in one street, within ``burst_window``; key
  (scope, area, category), at least ``burst_threshold`` cases;
- repeat reporter: cases by one reporter (a keyed hash, never a phone) within ``repeat_window``;
  key the reporter, at least ``repeat_threshold`` cases.

A signal becomes ONE task per key and window, however many further cases join it. A task's window
starts at the earliest case of the run that raised it and lasts the configured window; windows of
one key never overlap. :func:`place` decides, for a new case and one key, from the key's recent
cases and the windows its tasks already hold:

1. its time falls in a task's window → it joins that task (the count grows, nothing is raised again);
2. else, with it, ``threshold`` cases no task holds fall within ``window`` before it → a new task
   over them;
3. else nothing yet.

Cases already held by a grid burst are not counted again towards a street burst of the same
category (the caller leaves them out), so one cluster in one grid is one task, not two.

The same rules as the gateway's on-demand view (`GET /api/v1/ops/alerts`, gateway/ops/signals.py),
with the same settings (HUB_OPS_BURST_*, HUB_OPS_REPEAT_REPORTER_*), but decided once per case as it
arrives rather than recomputed per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

_TICK = timedelta(microseconds=1)


class Scope(StrEnum):
    grid = "grid"  # 网格 (the grid code the reporter or grid worker gave)
    street = "street"  # the case's street (or community) code


@dataclass(frozen=True)
class SignalPolicy:
    burst_window: timedelta
    burst_threshold: int
    repeat_window: timedelta
    repeat_threshold: int

    def __post_init__(self) -> None:
        if self.burst_window <= timedelta(0) or self.repeat_window <= timedelta(0):
            raise ValueError("signal windows must be positive")
        if self.burst_threshold < 2 or self.repeat_threshold < 2:
            raise ValueError("a signal needs a threshold of at least 2 cases")


@dataclass(frozen=True)
class Seen:
    """A case as early warning sees it: its number and when it was registered."""

    case_no: str
    at: datetime


@dataclass(frozen=True)
class Window:
    """The window a task already holds for a key."""

    task_id: str
    start: datetime
    end: datetime

    def holds(self, at: datetime) -> bool:
        return self.start <= at <= self.end


@dataclass(frozen=True)
class Join:
    task_id: str


@dataclass(frozen=True)
class Raise:
    start: datetime
    end: datetime
    cases: tuple[Seen, ...]  # oldest first; the new case is among them


Placement = Join | Raise | None


def burst_keys(category: str, street_code: str | None, grid_code: str | None) -> list[tuple[Scope, str, str]]:
    """The burst keys a case counts towards: its grid first (the finer), then its street."""
    keys = []
    if grid_code:
        keys.append((Scope.grid, grid_code, category))
    if street_code:
        keys.append((Scope.street, street_code, category))
    return keys


def place(
    new: Seen,
    recent: Sequence[Seen],
    windows: Sequence[Window],
    *,
    window: timedelta,
    threshold: int,
) -> Placement:
    """Where `new` goes for one key. `recent`: the key's other cases near it (at least those within
    `window` before it); `windows`: the windows the key's tasks hold near it."""
    for held in sorted(windows, key=lambda w: w.start):
        if held.holds(new.at):
            return Join(held.task_id)
    free = {
        s
        for s in (*recent, new)
        if new.at - window <= s.at <= new.at and not any(w.holds(s.at) for w in windows)
    }
    if len(free) < threshold:
        return None
    run = tuple(sorted(free, key=lambda s: (s.at, s.case_no)))
    start = run[0].at
    end = start + window
    later = [w.start for w in windows if start < w.start <= end]
    if later:  # a case that arrived late, before a window already raised: keep windows apart
        end = min(later) - _TICK
    return Raise(start, end, run)
