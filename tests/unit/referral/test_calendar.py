"""Working-day calendar: statutory holidays and 调休 from chinese_calendar, loaded schedules, fallbacks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.referral.domain.calendar import (
    ClockKind,
    DaySource,
    Pause,
    WorkingCalendar,
    YearSchedule,
    business_date,
)

from .helpers import SHANGHAI, sh

# --- the 2026 facts, checked against the package rather than trusted ------------------------------

SPRING_FESTIVAL_2026 = [date(2026, 2, d) for d in range(15, 24)]  # Sun 15 … Mon 23
NATIONAL_DAY_2026 = [date(2026, 10, d) for d in range(1, 8)]  # Thu 1 … Wed 7
MAKEUP_2026 = [date(2026, 2, 14), date(2026, 2, 28), date(2026, 9, 20), date(2026, 10, 10)]


def test_the_2026_facts_match_chinese_calendar() -> None:
    for day in SPRING_FESTIVAL_2026 + NATIONAL_DAY_2026:
        assert chinese_calendar.is_holiday(day), day
    for day in MAKEUP_2026:
        assert day.weekday() >= 5 and chinese_calendar.is_workday(day), day
    # The days around the holidays are ordinary.
    for day in (date(2026, 2, 13), date(2026, 2, 24), date(2026, 9, 30), date(2026, 10, 8)):
        assert chinese_calendar.is_workday(day), day
    assert chinese_calendar.is_holiday(date(2026, 10, 11))  # the Sunday after the make-up Saturday


def test_calendar_follows_the_package_for_2026(calendar: WorkingCalendar) -> None:
    for day in SPRING_FESTIVAL_2026 + NATIONAL_DAY_2026:
        assert not calendar.is_workday(day), day
    for day in MAKEUP_2026:
        assert calendar.is_workday(day), day
    assert calendar.source_for(2026) is DaySource.package
    assert calendar.covers(2026) and calendar.covers(2004)


def test_is_workday_reads_an_instant_as_its_shanghai_date(calendar: WorkingCalendar) -> None:
    # 2026-02-14 17:00 UTC is already Sunday the 15th (holiday) in Shanghai.
    instant = datetime(2026, 2, 14, 17, 0, tzinfo=UTC)
    assert business_date(instant) == date(2026, 2, 15)
    assert not calendar.is_workday(instant)
    assert calendar.is_workday(datetime(2026, 2, 14, 15, 59, tzinfo=UTC))  # Saturday 23:59, make-up day


# --- N working days -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Spring Festival 2026: Thu 12th + 3 → Fri 13, Sat 14 (make-up), then Tue 24 after the holiday.
        (sh(2026, 2, 12, 10, 0), 3, sh(2026, 2, 24, 10, 0)),
        (sh(2026, 2, 13, 16, 30), 1, sh(2026, 2, 14, 16, 30)),  # the make-up Saturday counts
        (sh(2026, 2, 14, 9, 0), 3, sh(2026, 2, 26, 9, 0)),  # starting on the make-up Saturday
        (sh(2026, 2, 27, 11, 0), 1, sh(2026, 2, 28, 11, 0)),  # Sat 28 Feb is worked
        # National Day 2026: Tue 29 Sep + 3 → Wed 30, Thu 8 Oct, Fri 9 Oct.
        (sh(2026, 9, 29, 14, 0), 3, sh(2026, 10, 9, 14, 0)),
        (sh(2026, 9, 20, 11, 0), 1, sh(2026, 9, 21, 11, 0)),  # make-up Sunday
        (sh(2026, 10, 9, 15, 0), 1, sh(2026, 10, 10, 15, 0)),  # make-up Saturday
        (sh(2026, 10, 9, 15, 0), 2, sh(2026, 10, 12, 15, 0)),  # Sun 11 Oct is a rest day again
        # Starting on a rest day: counting begins at 00:00 of the next working day, due at its end.
        (sh(2026, 10, 1, 10, 0), 1, sh(2026, 10, 9, 0, 0)),
        (sh(2026, 3, 7, 15, 0), 1, sh(2026, 3, 10, 0, 0)),  # Sat → end of Mon
        (sh(2026, 3, 6, 0, 0), 1, sh(2026, 3, 7, 0, 0)),  # Fri 00:00 + 1 = end of Friday
        (sh(2026, 3, 6, 10, 0), 0, sh(2026, 3, 6, 10, 0)),
    ],
)
def test_add_working_days(calendar: WorkingCalendar, start: datetime, n: int, due: datetime) -> None:
    result = calendar.add_working_days(start, n)
    assert result.due == due
    assert not result.provisional


def test_result_keeps_the_start_timezone(calendar: WorkingCalendar) -> None:
    start = sh(2026, 9, 29, 14, 0).astimezone(UTC)
    result = calendar.add_working_days(start, 3)
    assert result.due.tzinfo is UTC
    assert result.due == sh(2026, 10, 9, 14, 0)


def test_add_working_hours_skips_rest_days(calendar: WorkingCalendar) -> None:
    # Fri 20:00 + 8 working hours: 4 left on Friday, 4 more from Monday 00:00.
    assert calendar.add_working_hours(sh(2026, 3, 6, 20, 0), 8).due == sh(2026, 3, 9, 4, 0)


def test_wall_clock_ignores_the_calendar(calendar: WorkingCalendar) -> None:
    result = calendar.add_wall_clock(sh(2026, 10, 1, 23, 50), timedelta(minutes=30))
    assert result.due == sh(2026, 10, 2, 0, 20)
    assert not result.provisional


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (sh(2026, 1, 5, 10, 0), 15, sh(2026, 1, 20, 10, 0)),
        # 16 Sep + 15 = Thu 1 Oct, a holiday: the period ends on the next working day (民法典 第二百零三条).
        (sh(2026, 9, 16, 10, 0), 15, sh(2026, 10, 8, 10, 0)),
        (sh(2026, 2, 7, 9, 0), 8, sh(2026, 2, 24, 9, 0)),  # lands in Spring Festival
    ],
)
def test_calendar_days_roll_off_rest_days(
    calendar: WorkingCalendar, start: datetime, n: int, due: datetime
) -> None:
    assert calendar.add_calendar_days(start, n).due == due


# --- years nobody covers ----------------------------------------------------------------------------


def test_deadline_into_2027_is_provisional_until_the_schedule_is_loaded(
    calendar: WorkingCalendar, calendar_2027: WorkingCalendar
) -> None:
    start = sh(2026, 12, 28, 10, 0)  # Monday
    guessed = calendar.add_working_days(start, 7)
    # Weekends only: Tue 29, Wed 30, Thu 31, Fri 1 Jan, Mon 4, Tue 5, Wed 6.
    assert guessed.due == sh(2027, 1, 6, 10, 0)
    assert guessed.provisional and guessed.provisional_years == {2027}

    known = calendar_2027.add_working_days(start, 7)
    # New Year's Day is a holiday in the loaded schedule: one day later.
    assert known.due == sh(2027, 1, 7, 10, 0)
    assert not known.provisional and known.provisional_years == frozenset()


def test_deadline_that_stays_in_2026_is_not_provisional(calendar: WorkingCalendar) -> None:
    result = calendar.add_working_days(sh(2026, 12, 28, 10, 0), 3)
    assert result.due == sh(2026, 12, 31, 10, 0)
    assert not result.provisional


def test_coverage_and_sources(calendar: WorkingCalendar, calendar_2027: WorkingCalendar) -> None:
    assert not calendar.covers(2027) and calendar.source_for(2027) is DaySource.weekends_only
    assert not calendar.covers(2003)
    assert calendar_2027.covers(2027) and calendar_2027.source_for(2027) is DaySource.schedule
    assert calendar_2027.source_for(2026) is DaySource.package


@pytest.mark.parametrize("year", [1990, 2003, 2027, 2100, 2400])
def test_no_date_in_an_uncovered_year_raises(calendar: WorkingCalendar, year: int) -> None:
    day = date(year, 1, 1)
    while day.year == year:
        assert calendar.is_workday(day) == (day.weekday() < 5)
        day += timedelta(days=1)
    result = calendar.add_working_days(sh(year, 12, 30, 9, 0), 5)
    assert result.provisional and year in result.provisional_years
    assert calendar.add_calendar_days(sh(year, 6, 1), 60).provisional
    span = calendar.working_time_between(sh(year, 1, 1), sh(year + 1, 1, 1))
    assert span.provisional and 259 <= span.days <= 262


def test_1990_daylight_saving_keeps_same_clock_time(calendar: WorkingCalendar) -> None:
    # China observed DST 1986–1991 (clocks forward on 15 Apr 1990): still the same wall-clock time.
    assert calendar.add_working_days(sh(1990, 4, 13, 10, 0), 1).due == sh(1990, 4, 16, 10, 0)


def test_a_loaded_schedule_overrides_the_package() -> None:
    correction = YearSchedule(2026, frozenset({date(2026, 3, 2)}), frozenset(), "test correction")
    calendar = WorkingCalendar([correction])
    assert not calendar.is_workday(date(2026, 3, 2))
    assert calendar.is_workday(date(2026, 2, 16))  # the loaded year replaces the package entirely
    assert calendar.source_for(2026) is DaySource.schedule


# --- measuring working time -------------------------------------------------------------------------


def test_working_days_between(calendar: WorkingCalendar) -> None:
    # Fri 13 Feb 10:00 → Tue 24 Feb 10:00: 14 h + Sat 14 (make-up) 24 h + 10 h = 2 working days.
    a, b = sh(2026, 2, 13, 10, 0), sh(2026, 2, 24, 10, 0)
    assert calendar.working_days_between(a, b) == 2.0
    assert calendar.working_days_between(b, a) == -2.0
    assert calendar.working_days_between(sh(2026, 2, 15), sh(2026, 2, 24)) == 0.0
    assert calendar.working_time_between(sh(2026, 3, 2, 9), sh(2026, 3, 2, 21)).working == timedelta(hours=12)


def test_elapsed_on_each_clock(calendar: WorkingCalendar) -> None:
    a, b = sh(2026, 3, 6, 12, 0), sh(2026, 3, 9, 12, 0)  # Fri noon → Mon noon
    assert calendar.elapsed(a, b, ClockKind.working) == timedelta(hours=24)
    assert calendar.elapsed(a, b, ClockKind.wall) == timedelta(days=3)
    assert calendar.elapsed(a, b, ClockKind.calendar_days) == timedelta(days=3)


# --- suspensions ------------------------------------------------------------------------------------

START = sh(2026, 3, 2, 10, 0)  # Monday; 3 working days → Thu 5 Mar 10:00


def test_pause_moves_the_due_time_by_the_paused_working_time(calendar: WorkingCalendar) -> None:
    pause = Pause(sh(2026, 3, 3, 12, 0), sh(2026, 3, 4, 12, 0))
    assert calendar.add_working_days(START, 3, pauses=[pause]).due == sh(2026, 3, 6, 10, 0)


def test_pause_over_a_weekend_moves_nothing(calendar: WorkingCalendar) -> None:
    weekend = Pause(sh(2026, 3, 7, 0, 0), sh(2026, 3, 9, 0, 0))
    assert (
        calendar.add_working_days(START, 7, pauses=[weekend]).due == calendar.add_working_days(START, 7).due
    )


def test_pause_after_the_due_time_changes_nothing(calendar: WorkingCalendar) -> None:
    late = Pause(sh(2026, 3, 6, 9, 0), sh(2026, 3, 9, 9, 0))
    assert calendar.add_working_days(START, 3, pauses=[late]).due == sh(2026, 3, 5, 10, 0)


def test_overlapping_and_early_pauses_count_once(calendar: WorkingCalendar) -> None:
    overlapping = [
        Pause(sh(2026, 3, 3, 8, 0), sh(2026, 3, 3, 20, 0)),
        Pause(sh(2026, 3, 3, 14, 0), sh(2026, 3, 4, 8, 0)),  # union: Tue 08:00 → Wed 08:00 = 24 h
        Pause(sh(2026, 3, 1, 0, 0), sh(2026, 3, 2, 11, 0)),  # began before the start: 1 h counts
    ]
    assert calendar.add_working_days(START, 3, pauses=overlapping).due == sh(2026, 3, 6, 11, 0)


def test_pause_across_national_day_only_counts_working_time(calendar: WorkingCalendar) -> None:
    start = sh(2026, 9, 28, 10, 0)  # Mon; 3 working days → Wed 30 Sep, Thu 8 Oct … due Thu 8 Oct 10:00
    assert calendar.add_working_days(start, 3).due == sh(2026, 10, 8, 10, 0)
    # Paused Wed 30 Sep 10:00 → Fri 9 Oct 10:00: 48 h of working time had accrued, 24 h remain,
    # counted from Fri 9 Oct 10:00 (14 h) into the make-up Saturday 10 Oct (10 h).
    pause = Pause(sh(2026, 9, 30, 10, 0), sh(2026, 10, 9, 10, 0))
    assert calendar.add_working_days(start, 3, pauses=[pause]).due == sh(2026, 10, 10, 10, 0)


def test_pause_on_a_wall_clock_deadline(calendar: WorkingCalendar) -> None:
    start = sh(2026, 10, 3, 10, 0)
    pause = Pause(sh(2026, 10, 3, 10, 10), sh(2026, 10, 3, 10, 25))
    assert calendar.add_wall_clock(start, timedelta(minutes=30), pauses=[pause]).due == sh(
        2026, 10, 3, 10, 45
    )


# --- refusals -----------------------------------------------------------------------------------------


def test_naive_datetimes_and_negative_amounts_are_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add_working_days(datetime(2026, 3, 2, 10, 0), 1)
    with pytest.raises(ValueError, match="non-negative"):
        calendar.add_working_days(START, -1)
    with pytest.raises(ValueError, match="negative"):
        calendar.add_wall_clock(START, timedelta(minutes=-1))
    with pytest.raises(ValueError, match="before it starts"):
        Pause(sh(2026, 3, 3), sh(2026, 3, 2))


# --- properties ---------------------------------------------------------------------------------------

_INSTANTS = st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=SHANGHAI)
)


@settings(max_examples=200, deadline=None)
@given(start=_INSTANTS, n=st.integers(min_value=0, max_value=15))
def test_n_working_days_is_n_days_of_working_time(start: datetime, n: int) -> None:
    calendar = WorkingCalendar()
    due = calendar.add_working_days(start, n).due
    assert due >= start
    assert calendar.working_time_between(start, due).working == n * timedelta(hours=24)
    assert calendar.add_working_days(start, n + 1).due > due
    if n and calendar.is_workday(start):
        assert due.astimezone(SHANGHAI).time() == start.time()  # same clock time on a working day


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(1, 1, 1), max_value=date(9990, 12, 31)), n=st.integers(0, 30))
def test_no_date_in_any_year_raises_and_the_flag_is_exact(day: date, n: int) -> None:
    calendar = WorkingCalendar()
    calendar.is_workday(day)
    start = datetime.combine(day, time(9, 30), tzinfo=SHANGHAI)
    result = calendar.add_working_days(start, n)
    last_day = business_date(max(start, result.due - timedelta(microseconds=1)))
    touched = range(day.year, last_day.year + 1) if n else range(0)  # adding nothing consults nothing
    assert result.provisional_years == {y for y in touched if not calendar.covers(y)}
    assert result.provisional == bool(result.provisional_years)
