"""Supervision ladder (督办): levels at their boundaries, next-step times, urges, labels."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import pytest

from services.referral.domain.calendar import ClockKind, WorkingCalendar
from services.referral.domain.supervision import (
    LADDER,
    Audience,
    Level,
    SupervisionPolicy,
    apply_urge,
    due_level,
    higher,
    ladder_times,
    next_step_at,
    step_for,
)

from .helpers import sh

TICK = timedelta(microseconds=1)

# A 3-working-day deadline: Mon 2 Mar 2026 10:00 → Thu 5 Mar 10:00 (72 working hours).
STARTED, DUE = sh(2026, 3, 2, 10, 0), sh(2026, 3, 5, 10, 0)
EXPECTED = {
    # 80% = 57.6 h: Mon 14 h + Tue 24 h + 19.6 h of Wednesday.
    Level.reminder: sh(2026, 3, 4, 19, 36),
    Level.ordinary: DUE,
    Level.yellow_card: sh(2026, 3, 6, 10, 0),  # 1 working day past
    Level.red_card: sh(2026, 3, 10, 10, 0),  # 3 working days past: Fri, Mon, Tue
}


def test_ladder_times(calendar: WorkingCalendar) -> None:
    steps = ladder_times(STARTED, DUE, calendar)
    assert {s.level: s.at for s in steps} == EXPECTED
    assert [s.level for s in steps] == [Level.reminder, Level.ordinary, Level.yellow_card, Level.red_card]
    assert not any(s.provisional for s in steps)


@pytest.mark.parametrize(("level", "at"), EXPECTED.items(), ids=lambda x: str(x))
def test_each_level_starts_exactly_at_its_boundary(
    calendar: WorkingCalendar, level: Level, at: datetime
) -> None:
    assert due_level(STARTED, DUE, at, calendar) is level
    assert due_level(STARTED, DUE, at - TICK, calendar).rank == level.rank - 1


def test_levels_before_and_long_after(calendar: WorkingCalendar) -> None:
    assert due_level(STARTED, DUE, STARTED, calendar) is Level.none
    assert due_level(STARTED, DUE, sh(2027, 6, 1), calendar) is Level.red_card


def test_next_step_at_walks_the_ladder(calendar: WorkingCalendar) -> None:
    assert next_step_at(STARTED, DUE, STARTED, calendar) == EXPECTED[Level.reminder]
    assert next_step_at(STARTED, DUE, EXPECTED[Level.reminder], calendar) == DUE
    assert next_step_at(STARTED, DUE, DUE, calendar) == EXPECTED[Level.yellow_card]
    assert next_step_at(STARTED, DUE, EXPECTED[Level.red_card], calendar) is None


def test_next_step_after_an_urge(calendar: WorkingCalendar) -> None:
    # Urged to ordinary before the deadline: the next thing to watch is the yellow card.
    now = sh(2026, 3, 3, 9, 0)
    urged = apply_urge(due_level(STARTED, DUE, now, calendar))
    assert urged is Level.reminder
    urged = apply_urge(urged)
    assert next_step_at(STARTED, DUE, now, calendar, current=urged) == EXPECTED[Level.yellow_card]


def test_urge_jumps_one_step_and_stops_at_red() -> None:
    chain = [Level.none]
    for _ in range(5):
        chain.append(apply_urge(chain[-1]))
    assert chain == [
        Level.none,
        Level.reminder,
        Level.ordinary,
        Level.yellow_card,
        Level.red_card,
        Level.red_card,
    ]
    assert higher(Level.ordinary, Level.reminder) is Level.ordinary
    assert higher(Level.none, Level.yellow_card) is Level.yellow_card


def test_reminder_on_a_working_clock_skips_the_holiday(calendar: WorkingCalendar) -> None:
    # 7 working days from Tue 29 Sep 2026 10:00 → Wed 14 Oct 10:00 across National Day.
    started, due = sh(2026, 9, 29, 10, 0), sh(2026, 10, 14, 10, 0)
    assert calendar.add_working_days(started, 7).due == due
    reminder = ladder_times(started, due, calendar)[0]
    assert reminder.at == sh(2026, 10, 13, 0, 24)  # 134.4 working hours in, not a day in the holiday


def test_wall_clock_deadline_reminds_at_80_percent_of_real_time(calendar: WorkingCalendar) -> None:
    started = sh(2026, 10, 3, 10, 0)  # a holiday: a red case's 30 minutes run anyway
    due = started + timedelta(minutes=30)
    steps = {s.level: s.at for s in ladder_times(started, due, calendar, clock=ClockKind.wall)}
    assert steps[Level.reminder] == sh(2026, 10, 3, 10, 24)
    # Past-deadline steps count working days: end of Thu 8 Oct (the first working day), then 3 days.
    assert steps[Level.yellow_card] == sh(2026, 10, 9, 0, 0)
    assert steps[Level.red_card] == sh(2026, 10, 11, 0, 0)  # 8, 9 and make-up Sat 10 Oct: its end
    assert due_level(started, due, sh(2026, 10, 3, 10, 24), calendar, clock=ClockKind.wall) is Level.reminder


def test_ladder_past_the_end_of_2026_is_provisional(
    calendar: WorkingCalendar, calendar_2027: WorkingCalendar
) -> None:
    started, due = sh(2026, 12, 28, 10, 0), sh(2026, 12, 31, 10, 0)
    guessed = {s.level: s for s in ladder_times(started, due, calendar)}
    assert guessed[Level.yellow_card].provisional and guessed[Level.yellow_card].at == sh(2027, 1, 1, 10, 0)
    known = {s.level: s for s in ladder_times(started, due, calendar_2027)}
    assert not known[Level.yellow_card].provisional and known[Level.yellow_card].at == sh(2027, 1, 4, 10, 0)


def test_policy_numbers_are_configuration(calendar: WorkingCalendar) -> None:
    policy = SupervisionPolicy(Fraction(1, 2), 2, 5)
    steps = {s.level: s.at for s in ladder_times(STARTED, DUE, calendar, policy=policy)}
    assert steps[Level.reminder] == sh(2026, 3, 3, 22, 0)  # 36 working hours in
    assert steps[Level.yellow_card] == sh(2026, 3, 9, 10, 0)
    assert steps[Level.red_card] == sh(2026, 3, 12, 10, 0)
    with pytest.raises(ValueError):
        SupervisionPolicy(Fraction(3, 2))
    with pytest.raises(ValueError):
        SupervisionPolicy(yellow_card_after_working_days=4, red_card_after_working_days=3)


def test_labels_and_audiences() -> None:
    assert [(s.label_zh, s.letter_zh, s.audience) for s in LADDER] == [
        ("提醒", None, Audience.department_contact),
        ("普通督办", "提醒函", Audience.department_head),
        ("黄牌督办", "督办函", Audience.centre_leader),
        ("红牌督办", "督办函", Audience.political_legal_committee),
    ]
    red = step_for(Level.red_card)
    assert red is not None and red.audience_zh == "政法委"
    assert Audience.department_head in red.recipients
    assert step_for(Level.none) is None
