"""Chinese working-day calendar (法定节假日与调休) and deadline arithmetic on it.

Where a day's status comes from, in order:
1. a loaded official schedule (:class:`YearSchedule`, parsed from data by :func:`parse_year_schedule`);
2. the ``chinese_calendar`` package (1.11.0 covers 2004–2026 and raises for other years);
3. weekends only — and every result that depended on such a day is flagged ``provisional`` with the
   years concerned, so it can be recomputed when the State Council's schedule is loaded.
No date makes this module raise.

The time model (documented choice, used by every function here):
- Business time is Asia/Shanghai wall-clock time. Inputs must be timezone-aware; results are returned
  in the start's timezone.
- *Working time* accrues around the clock on working days and not at all on rest days. A working day
  is 24 hours of working time, so "N working days from ``start``" is the earliest instant at which N×24
  hours of working time have accrued since ``start``:
  * start on a working day → the same clock time on the Nth following working day
    (Mon 10:00 + 3 → Thu 10:00; Fri 10:00 + 1 → next working day 10:00);
  * start on a rest day → counting begins at 00:00 of the next working day, so the deadline is the end
    (24:00, i.e. 00:00 of the day after) of the Nth working day (Sat 15:00 + 1 → Tue 00:00).
  This is stricter than the civil-law day count (民法典 第二百零一条: start day not counted, deadline at
  24:00) by less than one day; it keeps "1 working day" meaning the same for acknowledgement and handling.
- *Wall-clock* limits (red 30 minutes, orange 2 hours) are elapsed real time, calendar ignored.
- *Calendar-day* limits (信访: 15/60/30 days) end at the same clock time N days later; if that day is a
  rest day, at the same clock time on the next working day (民法典 第二百零三条: a period whose last day
  is a statutory holiday ends on the day after the holiday).
- Suspensions (the case waits on the citizen) stop the clock: counted time inside a pause does not
  accrue, so the due time moves out by the paused *counted* time (a pause over a weekend moves a
  working-day deadline by nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo

import chinese_calendar

from hub.datafile import (
    DataFileError,
    expect_date,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
    parse_mapping,
)

ONE_DAY = timedelta(days=1)
WORKING_DAY = timedelta(hours=24)  # of working time; see the module docstring
_ZERO = timedelta(0)


@cache
def business_tz() -> ZoneInfo:
    """Asia/Shanghai; built on first use so importing this module reads no tz file."""
    return ZoneInfo("Asia/Shanghai")


def business_date(instant: datetime) -> date:
    """The Asia/Shanghai calendar date of an aware instant."""
    return _to_local(instant).date()


class ClockKind(StrEnum):
    """How a time limit's clock runs."""

    wall = "wall"  # elapsed real time
    working = "working"  # only working days count
    calendar_days = "calendar_days"  # every day counts; an end on a rest day rolls to the next working day


class DaySource(StrEnum):
    """Where a year's working days come from."""

    schedule = "schedule"  # a loaded official schedule
    package = "chinese_calendar"
    weekends_only = "weekends_only"  # nobody knows yet: provisional


class ScheduleError(DataFileError):
    """An official schedule is malformed or inconsistent."""


@dataclass(frozen=True)
class YearSchedule:
    """One year's official holiday arrangement (国务院办公厅关于节假日安排的通知), as data.

    ``holidays`` are rest days that would otherwise be working days (weekend days inside a holiday
    period may be listed too); ``makeup_workdays`` are weekend days that are worked (调休上班).
    """

    year: int
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]
    source: str

    def __post_init__(self) -> None:
        # Accept any iterable of dates, store frozensets so a schedule cannot change after loading.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "makeup_workdays", frozenset(self.makeup_workdays))
        where = f"schedule {self.year}"
        if not 1 <= self.year <= 9999:
            raise ScheduleError(where, f"year {self.year} is out of range")
        for name, days in (("holidays", self.holidays), ("workdays", self.makeup_workdays)):
            for day in days:
                if type(day) is not date:
                    raise ScheduleError(f"{where}.{name}", f"expected dates, got {day!r}")
            for day in sorted(days):
                if day.year != self.year:
                    raise ScheduleError(f"{where}.{name}", f"{day.isoformat()} is not in {self.year}")
        both = self.holidays & self.makeup_workdays
        if both:
            listed = ", ".join(d.isoformat() for d in sorted(both))
            raise ScheduleError(where, f"listed both as holiday and as make-up working day: {listed}")
        weekdays = sorted(d for d in self.makeup_workdays if d.weekday() < 5)
        if weekdays:
            # A make-up working day is by definition a weekend day; a weekday here is a typo.
            listed = ", ".join(f"{d.isoformat()} ({d:%a})" for d in weekdays)
            raise ScheduleError(f"{where}.workdays", f"make-up working days must be weekend days: {listed}")
        if not self.source.strip():
            raise ScheduleError(f"{where}.source", "a schedule must say where it comes from")

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def parse_year_schedule(text: str, *, source: str = "inline") -> YearSchedule:
    """Parse one year's schedule from YAML or JSON text.

    Format (``source`` in the document, e.g. the notice's title and number, wins over the argument,
    which callers set to the file name)::

        year: 2027
        source: 国务院办公厅关于2027年部分节假日安排的通知
        holidays:                       # dates, or inclusive ranges
          - 2027-01-01
          - {from: 2027-02-06, to: 2027-02-13, name: 春节}
        workdays:                       # make-up working days (调休上班), weekend days only
          - 2027-02-14
    """
    data = expect_mapping(
        parse_mapping(text, "schedule", aliases=False),
        "schedule",
        required={"year", "holidays"},
        optional={"workdays", "source", "notes"},
    )
    year = expect_int(data["year"], "schedule.year", minimum=1)
    holidays = _parse_days(data["holidays"], "schedule.holidays")
    workdays = _parse_days(data.get("workdays", []), "schedule.workdays")
    doc_source = data.get("source")
    origin = expect_str(doc_source, "schedule.source") if doc_source is not None else source
    return YearSchedule(year, frozenset(holidays), frozenset(workdays), origin)


# A year has 366 days: a list longer than that is not a holiday schedule (an upload is bounded before
# anything is expanded or compared).
MAX_DAY_ENTRIES = 366


def _parse_days(node: object, where: str) -> list[date]:
    days: list[date] = []
    entries = expect_list(node, where)
    if len(entries) > MAX_DAY_ENTRIES:
        raise ScheduleError(where, f"{len(entries)} entries; a year's schedule has at most {MAX_DAY_ENTRIES}")
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        if isinstance(entry, dict):
            span = expect_mapping(entry, at, required={"from", "to"}, optional={"name"})
            first, last = expect_date(span["from"], f"{at}.from"), expect_date(span["to"], f"{at}.to")
            if last < first:
                raise ScheduleError(at, f"range ends ({last}) before it starts ({first})")
            if (last - first).days > 31:
                raise ScheduleError(at, "a holiday range longer than a month is surely a typo")
            days.extend(first + timedelta(days=k) for k in range((last - first).days + 1))
        else:
            days.append(expect_date(entry, at))
    duplicates = sorted(d for d, n in Counter(days).items() if n > 1)
    if duplicates:
        raise ScheduleError(where, f"listed more than once: {', '.join(d.isoformat() for d in duplicates)}")
    return days


@dataclass(frozen=True)
class Pause:
    """A suspension of the clock, [start, end). For one still running, pass ``end=now``."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _require_aware(self.start, "pause start")
        _require_aware(self.end, "pause end")
        if self.end < self.start:
            raise ValueError(
                f"pause ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})"
            )


@dataclass(frozen=True)
class DeadlineResult:
    """A computed due time; ``provisional`` when a year without an official schedule was involved."""

    due: datetime
    provisional: bool
    provisional_years: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class WorkingSpan:
    """Working time between two instants (negative when the second is earlier)."""

    working: timedelta
    provisional: bool

    @property
    def days(self) -> float:
        return self.working / WORKING_DAY


class WorkingCalendar:
    """Working days from loaded schedules, then ``chinese_calendar``, then weekends only (provisional)."""

    def __init__(self, schedules: Iterable[YearSchedule] = ()) -> None:
        by_year: dict[int, YearSchedule] = {}
        for schedule in schedules:
            if schedule.year in by_year:
                raise ScheduleError(
                    f"schedule {schedule.year}",
                    f"loaded twice ({by_year[schedule.year].source!r} and {schedule.source!r})",
                )
            by_year[schedule.year] = schedule
        self._schedules = by_year
        # The calendar never changes once built (with_schedule returns a new one): each day is looked
        # up once. chinese_calendar's own lookup validates and parses on every call, and deadline
        # ladders walk the same days many times per referral.
        self._days: dict[date, tuple[bool, DaySource]] = {}

    @property
    def schedules(self) -> tuple[YearSchedule, ...]:
        return tuple(self._schedules[y] for y in sorted(self._schedules))

    def with_schedule(self, schedule: YearSchedule) -> WorkingCalendar:
        """A new calendar with ``schedule`` loaded, replacing any earlier one for that year."""
        others = [s for s in self._schedules.values() if s.year != schedule.year]
        return WorkingCalendar([*others, schedule])

    # --- days -------------------------------------------------------------------------------

    def source_for(self, year: int) -> DaySource:
        if year in self._schedules:
            return DaySource.schedule
        if _package_covers(year):
            return DaySource.package
        return DaySource.weekends_only

    def covers(self, year: int) -> bool:
        """True when the year's days are known (not provisional)."""
        return self.source_for(year) is not DaySource.weekends_only

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day; an aware datetime is read as its Asia/Shanghai date."""
        if isinstance(day, datetime):
            day = business_date(day)
        return self._day(day)[0]

    def _day(self, day: date) -> tuple[bool, DaySource]:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._lookup(day)
        return known

    def _lookup(self, day: date) -> tuple[bool, DaySource]:
        schedule = self._schedules.get(day.year)
        if schedule is not None:
            return schedule.is_workday(day), DaySource.schedule
        if _package_covers(day.year):
            try:
                return bool(chinese_calendar.is_workday(day)), DaySource.package
            except NotImplementedError:  # pragma: no cover - coverage probed above
                pass
        return day.weekday() < 5, DaySource.weekends_only

    def _working_counter(self, provisional_years: set[int]) -> Callable[[date], bool]:
        def counts(day: date) -> bool:
            workday, source = self._day(day)
            if source is DaySource.weekends_only:
                provisional_years.add(day.year)
            return workday

        return counts

    # --- adding time ------------------------------------------------------------------------

    def add(
        self, start: datetime, amount: timedelta, clock: ClockKind, *, pauses: Sequence[Pause] = ()
    ) -> DeadlineResult:
        """``start`` plus ``amount`` of counted time on ``clock``, pauses excluded."""
        if amount < _ZERO:
            raise ValueError(f"cannot add a negative amount of time ({amount})")
        _require_aware(start, "start")
        seen: set[int] = set()
        if clock is ClockKind.wall:
            due_utc = _advance_with_pauses(_to_utc(start), amount, _utc_pauses(pauses), _always)
            due = due_utc.replace(tzinfo=UTC)
        else:
            local = _advance_with_pauses(
                _to_local(start), amount, _local_pauses(pauses), self._counter(clock, seen)
            )
            if clock is ClockKind.calendar_days:
                counts = self._working_counter(seen)
                while not counts(local.date()):
                    local += ONE_DAY
            due = _from_local(local)
        return DeadlineResult(due.astimezone(start.tzinfo), bool(seen), frozenset(seen))

    def add_working_time(
        self, start: datetime, duration: timedelta, *, pauses: Sequence[Pause] = ()
    ) -> DeadlineResult:
        return self.add(start, duration, ClockKind.working, pauses=pauses)

    def add_working_days(self, start: datetime, n: int, *, pauses: Sequence[Pause] = ()) -> DeadlineResult:
        """N working days from ``start`` (see the module docstring for the exact meaning)."""
        return self.add(start, _whole(n, "working days") * WORKING_DAY, ClockKind.working, pauses=pauses)

    def add_working_hours(
        self, start: datetime, hours: float, *, pauses: Sequence[Pause] = ()
    ) -> DeadlineResult:
        return self.add(start, timedelta(hours=hours), ClockKind.working, pauses=pauses)

    def add_wall_clock(
        self, start: datetime, duration: timedelta, *, pauses: Sequence[Pause] = ()
    ) -> DeadlineResult:
        return self.add(start, duration, ClockKind.wall, pauses=pauses)

    def add_calendar_days(self, start: datetime, n: int, *, pauses: Sequence[Pause] = ()) -> DeadlineResult:
        return self.add(start, _whole(n, "calendar days") * ONE_DAY, ClockKind.calendar_days, pauses=pauses)

    # --- measuring time ---------------------------------------------------------------------

    def elapsed(self, a: datetime, b: datetime, clock: ClockKind) -> timedelta:
        """Counted time from ``a`` to ``b`` on ``clock`` (negative when ``b`` is earlier)."""
        if clock is ClockKind.working:
            return self.working_time_between(a, b).working
        if clock is ClockKind.wall:
            return _to_utc(b) - _to_utc(a)
        return _to_local(b) - _to_local(a)

    def working_time_between(self, a: datetime, b: datetime) -> WorkingSpan:
        """Working time in [a, b); negative when ``b`` is before ``a``."""
        seen: set[int] = set()
        counts = self._working_counter(seen)
        la, lb = _to_local(a), _to_local(b)
        working = _measure(la, lb, counts) if la <= lb else -_measure(lb, la, counts)
        return WorkingSpan(working, bool(seen))

    def working_days_between(self, a: datetime, b: datetime) -> float:
        """Working days (24 h of working time each) from ``a`` to ``b``, e.g. 1.5."""
        return self.working_time_between(a, b).days

    def _counter(self, clock: ClockKind, seen: set[int]) -> Callable[[date], bool]:
        return self._working_counter(seen) if clock is ClockKind.working else _always


# --- the counted-time engine: naive datetimes on one timeline (local wall-clock or UTC) -------------


def _always(_: date) -> bool:
    return True


def _advance(cursor: datetime, remaining: timedelta, counts: Callable[[date], bool]) -> datetime:
    """Earliest instant at which ``remaining`` counted time has accrued after ``cursor``."""
    if remaining <= _ZERO:
        return cursor
    if counts is _always:
        return cursor + remaining
    day = cursor.date()
    while True:
        day_end = datetime.combine(day + ONE_DAY, time.min)
        if counts(day):
            available = day_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        cursor, day = day_end, day + ONE_DAY


def _measure(a: datetime, b: datetime, counts: Callable[[date], bool]) -> timedelta:
    """Counted time in [a, b), a <= b."""
    if counts is _always:
        return b - a
    total = _ZERO
    cursor = a
    while cursor < b:
        segment_end = min(datetime.combine(cursor.date() + ONE_DAY, time.min), b)
        if counts(cursor.date()):
            total += segment_end - cursor
        cursor = segment_end
    return total


def _advance_with_pauses(
    start: datetime,
    budget: timedelta,
    pauses: Sequence[tuple[datetime, datetime]],
    counts: Callable[[date], bool],
) -> datetime:
    """Like :func:`_advance`, but counted time inside a pause does not accrue."""
    cursor, remaining = start, budget
    for pause_start, pause_end in _merge(pauses, start):
        reached = _advance(cursor, remaining, counts)
        if reached <= pause_start:
            return reached  # the budget ran out before this pause began: later pauses change nothing
        remaining -= _measure(cursor, pause_start, counts)
        cursor = pause_end
    return _advance(cursor, remaining, counts)


def _merge(pauses: Sequence[tuple[datetime, datetime]], after: datetime) -> list[tuple[datetime, datetime]]:
    """Pauses clipped to start no earlier than ``after``, sorted, overlaps merged, empty ones dropped."""
    merged: list[tuple[datetime, datetime]] = []
    for s, e in sorted((max(s, after), e) for s, e in pauses if e > after):
        if s >= e:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


# --- conversions -----------------------------------------------------------------------------


def _require_aware(instant: datetime, what: str) -> None:
    if not isinstance(instant, datetime) or instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {instant!r}")


def _to_local(instant: datetime) -> datetime:
    _require_aware(instant, "instant")
    return instant.astimezone(business_tz()).replace(tzinfo=None)


def _from_local(local: datetime) -> datetime:
    # Round-trip through UTC so a wall time inside a historical DST gap (1986–1991) still maps cleanly.
    aware = local.replace(tzinfo=business_tz())
    try:
        return aware.astimezone(UTC).astimezone(business_tz())
    except OverflowError:  # the first hours of year 1 have no UTC equivalent; no DST there anyway
        return aware


def _to_utc(instant: datetime) -> datetime:
    _require_aware(instant, "instant")
    return instant.astimezone(UTC).replace(tzinfo=None)


def _local_pauses(pauses: Sequence[Pause]) -> list[tuple[datetime, datetime]]:
    return [(_to_local(p.start), _to_local(p.end)) for p in pauses]


def _utc_pauses(pauses: Sequence[Pause]) -> list[tuple[datetime, datetime]]:
    return [(_to_utc(p.start), _to_utc(p.end)) for p in pauses]


def _whole(n: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
    return n


@cache
def _package_covers(year: int) -> bool:
    """Probe rather than hard-code 2004–2026, so a newer chinese_calendar is picked up by itself."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except (NotImplementedError, ValueError, OverflowError):
        return False
    return True
