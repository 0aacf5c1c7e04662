"""Which open referrals are stalled (ops, issue 7): past a deadline, or idle longer than a threshold.

Pure: the caller reads the candidates (open referrals with their open ladder deadlines) and the time;
this decides the kind, since when, and by how much it is late. A referral past a deadline is a
`deadline` stall whatever its idleness; otherwise one untouched for longer than the threshold is an
`idle` stall. Overdue minutes count from the deadline (deadline) or from the moment the idle threshold
was crossed (idle), so both sort on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.referral.domain.supervision import Level


@dataclass(frozen=True)
class OpenDeadline:
    kind: str  # acknowledge | handling | meeting | acceptance
    due_at: datetime
    supervision_level: str


@dataclass(frozen=True)
class Candidate:
    referral_id: str
    last_change_at: datetime
    deadlines: tuple[OpenDeadline, ...]


@dataclass(frozen=True)
class Stall:
    kind: str  # deadline | idle
    stage: str | None  # the deadline's kind for a deadline stall
    since: datetime
    overdue_minutes: int
    supervision_level: str | None


def _rank(level: str) -> int:
    return Level(level).rank


def classify(candidate: Candidate, now: datetime, idle_after: timedelta) -> Stall | None:
    past = [d for d in candidate.deadlines if d.due_at <= now]
    if past:
        first = min(past, key=lambda d: d.due_at)
        level = max((d.supervision_level for d in candidate.deadlines), key=_rank)
        return Stall("deadline", first.kind, first.due_at, _minutes(now - first.due_at), level)
    idle_since = candidate.last_change_at
    if now - idle_since >= idle_after:
        levels = [d.supervision_level for d in candidate.deadlines]
        idle_level = max(levels, key=_rank) if levels else None
        return Stall("idle", None, idle_since, _minutes(now - idle_since - idle_after), idle_level)
    return None


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))
