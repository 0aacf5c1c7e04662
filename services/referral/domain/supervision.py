"""The supervision ladder (督办) for one deadline: which step is due now, and when the next one is.

Steps, per RULES.md (the numbers are :class:`SupervisionPolicy`, loaded with the procedures):
none → reminder (80% of the deadline's span) → ordinary (at the deadline) → yellow_card (1 working day
past) → red_card (3 working days past). A 12345 urge (催办) jumps one step. Everything here is a pure
function of its arguments; the watchdog stores the level reached and indexes on :func:`next_step_at`.

The 80% point is measured on the deadline's own clock: working time for working-day limits (so a
reminder never lands in the middle of a holiday), elapsed time for wall-clock and calendar-day limits.
The steps past the deadline always count working days (a red 30-minute deadline missed on Saturday is
yellow-carded at the end of Monday).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from .calendar import ClockKind, WorkingCalendar


class Level(StrEnum):
    none = "none"
    reminder = "reminder"  # 提醒
    ordinary = "ordinary"  # 普通督办
    yellow_card = "yellow_card"  # 黄牌督办
    red_card = "red_card"  # 红牌督办

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = (Level.none, Level.reminder, Level.ordinary, Level.yellow_card, Level.red_card)


class Audience(StrEnum):
    department_contact = "department_contact"
    department_head = "department_head"
    centre_leader = "centre_leader"
    political_legal_committee = "political_legal_committee"


AUDIENCE_LABELS_ZH: dict[Audience, str] = {
    Audience.department_contact: "部门联系人",
    Audience.department_head: "部门负责人",
    Audience.centre_leader: "综治中心领导",
    Audience.political_legal_committee: "政法委",
}


@dataclass(frozen=True)
class Step:
    """One rung of the ladder: what it is called, which letter goes out, and who is brought in."""

    level: Level
    label_zh: str
    letter_zh: str | None  # 提醒函 / 督办函, sent with the step
    audience: Audience  # the party this step escalates to
    recipients: tuple[Audience, ...]  # everyone notified at this step (the department always)

    @property
    def audience_zh(self) -> str:
        return AUDIENCE_LABELS_ZH[self.audience]


LADDER: tuple[Step, ...] = (
    Step(Level.reminder, "提醒", None, Audience.department_contact, (Audience.department_contact,)),
    Step(Level.ordinary, "普通督办", "提醒函", Audience.department_head, (Audience.department_head,)),
    Step(
        Level.yellow_card,
        "黄牌督办",
        "督办函",
        Audience.centre_leader,
        (Audience.department_head, Audience.centre_leader),
    ),
    Step(
        Level.red_card,
        "红牌督办",
        "督办函",
        Audience.political_legal_committee,
        (Audience.department_head, Audience.centre_leader, Audience.political_legal_committee),
    ),
)


def step_for(level: Level) -> Step | None:
    """The ladder step for ``level`` (None for ``none``)."""
    return next((s for s in LADDER if s.level is level), None)


@dataclass(frozen=True)
class SupervisionPolicy:
    reminder_fraction: Fraction = Fraction(4, 5)
    yellow_card_after_working_days: int = 1
    red_card_after_working_days: int = 3

    def __post_init__(self) -> None:
        if not 0 <= self.reminder_fraction <= 1:
            raise ValueError(f"reminder fraction must be within [0, 1], got {self.reminder_fraction}")
        if not 0 <= self.yellow_card_after_working_days <= self.red_card_after_working_days:
            raise ValueError("need 0 <= yellow-card delay <= red-card delay (working days)")


DEFAULT_POLICY = SupervisionPolicy()


@dataclass(frozen=True)
class ScheduledStep:
    level: Level
    at: datetime
    provisional: bool  # computed over a year without an official holiday schedule


def ladder_times(
    started_at: datetime,
    due_at: datetime,
    calendar: WorkingCalendar,
    *,
    clock: ClockKind = ClockKind.working,
    policy: SupervisionPolicy = DEFAULT_POLICY,
) -> tuple[ScheduledStep, ...]:
    """When each step falls due, in ladder order (non-decreasing times)."""
    span = calendar.elapsed(started_at, due_at, clock)
    if span.total_seconds() <= 0:
        reminder = ScheduledStep(Level.reminder, due_at, False)
    else:
        share = span * policy.reminder_fraction.numerator // policy.reminder_fraction.denominator
        if clock is ClockKind.working:
            result = calendar.add_working_time(started_at, share)
            reminder = ScheduledStep(Level.reminder, min(result.due, due_at), result.provisional)
        else:
            reminder = ScheduledStep(Level.reminder, started_at + share, False)
    yellow = calendar.add_working_days(due_at, policy.yellow_card_after_working_days)
    red = calendar.add_working_days(due_at, policy.red_card_after_working_days)
    return (
        reminder,
        ScheduledStep(Level.ordinary, due_at, False),
        ScheduledStep(Level.yellow_card, yellow.due, yellow.provisional),
        ScheduledStep(Level.red_card, red.due, red.provisional),
    )


def due_level(
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    *,
    clock: ClockKind = ClockKind.working,
    policy: SupervisionPolicy = DEFAULT_POLICY,
) -> Level:
    """The highest step whose time has come (a step is due at its instant, not after it)."""
    level = Level.none
    for scheduled in ladder_times(started_at, due_at, calendar, clock=clock, policy=policy):
        if scheduled.at <= now:
            level = scheduled.level
    return level


def next_step_at(
    started_at: datetime,
    due_at: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    *,
    current: Level = Level.none,
    clock: ClockKind = ClockKind.working,
    policy: SupervisionPolicy = DEFAULT_POLICY,
) -> datetime | None:
    """When the next step above both the time-based level and ``current`` (e.g. after an urge) is due.

    None once the red card is reached. The result is always after ``now``.
    """
    reached = higher(current, due_level(started_at, due_at, now, calendar, clock=clock, policy=policy))
    for scheduled in ladder_times(started_at, due_at, calendar, clock=clock, policy=policy):
        if scheduled.level.rank > reached.rank:
            return scheduled.at
    return None


def steps_between(stored: Level, reached: Level) -> tuple[Level, ...]:
    """The steps above ``stored`` up to ``reached``, in ladder order (one event each when they fire)."""
    return tuple(level for level in _ORDER if stored.rank < level.rank <= reached.rank)


def apply_urge(level: Level) -> Level:
    """A 12345 urge (催办) moves the referral one step up the ladder; red card stays red card."""
    return _ORDER[min(level.rank + 1, len(_ORDER) - 1)]


def higher(a: Level, b: Level) -> Level:
    """The more severe of two levels: the stored level (after urges) never drops below the time level."""
    return a if a.rank >= b.rank else b
