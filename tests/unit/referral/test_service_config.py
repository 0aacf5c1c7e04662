"""The referral service's own data and helpers (not the pure domain): follow-up policy, clock, ladder start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.datafile import DataFileError
from services.referral.clock import ManualClock
from services.referral.config import Cadence, FollowUpRule, ReferralConfig, load_follow_ups
from services.referral.domain.calendar import ClockKind, Pause
from services.referral.domain.supervision import Level
from services.referral.usecases.supervision import ladder_start, next_check

from .helpers import sh


@pytest.fixture(scope="module")
def config() -> ReferralConfig:
    return ReferralConfig.load()


def test_packaged_data_loads_once_into_one_config(config: ReferralConfig) -> None:
    assert "housing_bureau@150203" in config.registry.units
    assert config.book.for_category("petition").id == "petition"
    red = config.follow_ups.for_colour("red")
    assert red is not None and red.cadence is Cadence.daily and red.period_days == 30
    assert config.follow_ups.for_colour("blue") is None


def test_follow_up_file_errors_name_the_path() -> None:
    with pytest.raises(DataFileError, match=r"follow_ups\.red\.cadence"):
        load_follow_ups("version: 1\nfollow_ups:\n  red: {cadence: hourly, period_days: 3}\n")
    with pytest.raises(DataFileError, match=r"follow_ups\.purple"):
        load_follow_ups("version: 1\nfollow_ups:\n  purple: {cadence: daily, period_days: 3}\n")
    with pytest.raises(DataFileError, match="period_days"):
        load_follow_ups("version: 1\nfollow_ups:\n  red: {cadence: daily, period_days: 0}\n")


def test_monthly_follow_ups_keep_the_day_of_month_clamped_to_its_end() -> None:
    rule = FollowUpRule("yellow", Cadence.monthly, 180)
    closed = sh(2026, 1, 31, 10, 0)
    assert rule.occurrence(closed, 1) == sh(2026, 2, 28, 10, 0)
    assert rule.occurrence(closed, 2) == sh(2026, 3, 31, 10, 0)
    assert rule.occurrence(closed, 12) == sh(2027, 1, 31, 10, 0)
    weekly = FollowUpRule("orange", Cadence.weekly, 90)
    assert weekly.occurrence(closed, 2) == closed + timedelta(weeks=2)
    assert rule.period_end(closed) == closed + timedelta(days=180)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(sh(2026, 3, 2, 9, 0))
    assert clock() == clock() == sh(2026, 3, 2, 9, 0)
    assert clock().tzinfo is UTC
    clock.advance(timedelta(hours=2))
    assert clock() == sh(2026, 3, 2, 11, 0)
    clock.set(datetime(2026, 3, 3, tzinfo=UTC))
    assert clock() == datetime(2026, 3, 3, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 3, 3))


def test_the_ladder_counts_only_time_that_was_not_paused(config: ReferralConfig) -> None:
    start = sh(2026, 3, 2, 9, 0)  # Monday
    pause = Pause(sh(2026, 3, 3, 9, 0), sh(2026, 3, 10, 9, 0))  # five working days
    assert ladder_start(config, start, ClockKind.working, [pause]) == sh(2026, 3, 9, 9, 0)
    assert ladder_start(config, start, ClockKind.working, []) == start
    assert ladder_start(config, start, ClockKind.calendar_days, [pause]) == start + timedelta(days=7)


def test_next_check_is_now_when_a_step_is_already_overdue(config: ReferralConfig) -> None:
    start, due = sh(2026, 3, 2, 9, 0), sh(2026, 3, 5, 9, 0)
    # Nothing reached yet: the reminder at 80% of three working days (Wed 18:36).
    assert next_check(config, start, due, start, Level.none, ClockKind.working) == sh(2026, 3, 4, 18, 36)
    # Past the deadline with only the reminder recorded (e.g. the clock was paused): look at once.
    late = sh(2026, 3, 5, 12, 0)
    assert next_check(config, start, due, late, Level.reminder, ClockKind.working) == late
    # At the top of the ladder there is nothing left to check.
    assert next_check(config, start, due, late, Level.red_card, ClockKind.working) is None
