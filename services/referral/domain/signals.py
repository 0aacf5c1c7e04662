"""Weak-signal early warning (弱信号风险预警), incremental: where a newly registered case goes.

Two kinds of signal, each counted per *key*:
- burst: cases of one category in one grid, or in one street, within ``burst_window``; key
  (scope, area, category), at least ``burst_threshold`` cases;
- repeat reporter: cases by one reporter (a keyed hash, never a phone) within ``repeat_window``;
  key the reporter, at least ``repeat_threshold`` cases.

A signal becomes ONE task per key and window, however many further cases join it. A task's window
starts at the earliest case of the run that raised it and lasts the configured window; windows of
one key never overlap. :func:`place` decides, for a new case and one key, from the key's *free*
cases near it (those no task holds yet) and the windows its tasks already hold:

1. its time falls in a task's window → it joins that task (the count grows, nothing is raised again);
   so does a case that reaches us late (cases are handled concurrently, so not in registration
   order) but was registered less than a window before a task's first case;
2. else, the largest run of free cases that includes it and fits in one window — looking both
   before and after it, since later cases may have been handled first — raises a new task when it
   has ``threshold`` cases; the run is every free case of that window;
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
    free: Sequence[Seen],
    windows: Sequence[Window],
    *,
    window: timedelta,
    threshold: int,
) -> Placement:
    """Where `new` goes for one key. `free`: the key's other cases no task holds, at least those within
    `window` of it (before and after); `windows`: the windows the key's tasks hold near it."""
    ordered = sorted(windows, key=lambda w: w.start)
    for held in ordered:
        if held.holds(new.at):
            return Join(held.task_id)
    for held in ordered:
        if held.start - window <= new.at < held.start:
            return Join(held.task_id)  # registered before the task's first case, reached us after it
    near = sorted(
        {s for s in (*free, new) if abs(s.at - new.at) <= window and not any(w.holds(s.at) for w in windows)},
        key=lambda s: (s.at, s.case_no),
    )
    at = near.index(new)
    best: tuple[int, int] | None = None  # [first, last] of the largest run holding `new`, earliest first
    for first in range(at + 1):
        last = max(i for i in range(len(near)) if near[i].at - near[first].at <= window)
        if last >= at and (best is None or last - first > best[1] - best[0]):
            best = (first, last)
    if best is None or best[1] - best[0] + 1 < threshold:
        return None
    # No overlap with a window raised already: a case less than a window before one joins it (above),
    # so this run ends before any later window starts, and free cases lie outside every window.
    start = near[best[0]].at
    return Raise(start, start + window, tuple(near[best[0] : best[1] + 1]))
