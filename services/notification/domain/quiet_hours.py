"""Quiet hours: no SMS to citizens at night (default 21:00–08:00 Asia/Shanghai), except red cases.

A message caught by quiet hours is deferred to the end of the window, never dropped. Departments
are on duty (red cases need acknowledging within 30 minutes), so quiet hours do not apply to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

RecipientKind = Literal["citizen", "department"]


@dataclass(frozen=True)
class QuietHoursPolicy:
    """Quiet from `start` (inclusive) to `end` (exclusive), local time; may cross midnight.

    `start == end` means no quiet hours at all.
    """

    start: time = time(21, 0)
    end: time = time(8, 0)
    timezone: str = "Asia/Shanghai"
    exempt_colours: frozenset[str] = field(default_factory=lambda: frozenset({"red"}))

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times: give start/end without tzinfo")


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("an aware datetime is required (business time is Asia/Shanghai, storage UTC)")


def is_quiet(now: datetime, policy: QuietHoursPolicy | None = None) -> bool:
    """Whether `now` falls inside the quiet window (ignores colour and recipient)."""
    _require_aware(now)
    policy = policy or QuietHoursPolicy()
    local = now.astimezone(ZoneInfo(policy.timezone)).time().replace(tzinfo=None)
    if policy.start == policy.end:
        return False
    if policy.start < policy.end:
        return policy.start <= local < policy.end
    return local >= policy.start or local < policy.end


def send_not_before(
    now: datetime,
    colour: str | None,
    recipient_kind: RecipientKind,
    policy: QuietHoursPolicy | None = None,
) -> datetime:
    """Earliest time a message may go out: `now` itself if allowed, else the window's end.

    The result is in `now`'s timezone, so callers working in UTC stay in UTC.
    """
    _require_aware(now)
    if recipient_kind not in get_args(RecipientKind):
        raise ValueError(f"recipient_kind must be one of {get_args(RecipientKind)}, got {recipient_kind!r}")
    policy = policy or QuietHoursPolicy()
    exempt = colour is not None and colour.strip().lower() in policy.exempt_colours
    if recipient_kind == "department" or exempt or not is_quiet(now, policy):
        return now
    zone = ZoneInfo(policy.timezone)
    local = now.astimezone(zone)
    end_date = local.date()
    # Crossing midnight and already past the start: the window ends tomorrow morning.
    if policy.start > policy.end and local.time().replace(tzinfo=None) >= policy.start:
        end_date += timedelta(days=1)
    resume = datetime.combine(end_date, policy.end, tzinfo=zone)
    return resume.astimezone(now.tzinfo)
