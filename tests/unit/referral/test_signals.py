"""Early warning placed case by case: one task per key and window, later cases join it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.referral.domain.signals import (
    Join,
    Raise,
    Scope,
    Seen,
    SignalPolicy,
    Window,
    burst_keys,
    place,
)

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def seen(i: int, minutes: float) -> Seen:
    return Seen(f"C{i}", T0 + timedelta(minutes=minutes))


def test_below_the_threshold_nothing_is_raised() -> None:
    assert place(seen(2, 60), [seen(1, 0)], [], window=DAY, threshold=3) is None


def test_the_case_that_reaches_the_threshold_raises_one_window_from_the_earliest_case() -> None:
    placed = place(seen(3, 90), [seen(1, 0), seen(2, 30)], [], window=DAY, threshold=3)
    assert isinstance(placed, Raise)
    assert [s.case_no for s in placed.cases] == ["C1", "C2", "C3"]
    assert placed.start == T0 and placed.end == T0 + DAY


def test_cases_spread_wider_than_the_window_do_not_count_together() -> None:
    spread = [seen(1, 0), seen(2, 24 * 60 + 1)]
    assert place(seen(3, 2 * 24 * 60 + 2), spread, [], window=DAY, threshold=3) is None


def test_a_case_inside_a_raised_window_joins_its_task_however_many_come() -> None:
    held = [Window("task-1", T0, T0 + DAY)]
    recent = [seen(i, i) for i in range(1, 10)]
    assert place(seen(10, 600), recent, held, window=DAY, threshold=3) == Join("task-1")


def test_after_the_window_only_cases_no_task_holds_count_towards_a_new_one() -> None:
    held = [Window("task-1", T0, T0 + DAY)]
    old = [seen(1, 0), seen(2, 60), seen(3, 120)]  # the first task's cases
    first_after = seen(4, 24 * 60 + 10)
    assert place(first_after, old, held, window=DAY, threshold=3) is None
    again = place(
        seen(6, 24 * 60 + 30), [*old, first_after, seen(5, 24 * 60 + 20)], held, window=DAY, threshold=3
    )
    assert isinstance(again, Raise)
    assert [s.case_no for s in again.cases] == ["C4", "C5", "C6"]
    assert again.start == first_after.at  # a new window, not overlapping the first


def test_a_late_case_before_a_raised_window_gets_a_window_that_stops_short_of_it() -> None:
    later = Window("task-2", T0 + timedelta(hours=10), T0 + timedelta(hours=34))
    placed = place(seen(3, 60), [seen(1, 0), seen(2, 30)], [later], window=DAY, threshold=3)
    assert isinstance(placed, Raise)
    assert placed.start == T0 and placed.end < later.start


def test_burst_keys_grid_before_street_and_none_without_a_location() -> None:
    assert burst_keys("noise", "150203001000", "G-1") == [
        (Scope.grid, "G-1", "noise"),
        (Scope.street, "150203001000", "noise"),
    ]
    assert burst_keys("noise", None, None) == []


def test_a_policy_needs_positive_windows_and_thresholds_of_two() -> None:
    with pytest.raises(ValueError, match="threshold"):
        SignalPolicy(DAY, 1, DAY, 3)
    with pytest.raises(ValueError, match="windows"):
        SignalPolicy(timedelta(0), 3, DAY, 3)
