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
    assert place(seen(10, 600), [], held, window=DAY, threshold=3) == Join("task-1")
    assert place(seen(11, 24 * 60), [], held, window=DAY, threshold=3) == Join("task-1")  # the window's end


def test_a_case_registered_before_a_tasks_first_case_but_handled_after_it_joins_it() -> None:
    """Registrations are handled concurrently: one registered earlier may be placed later."""
    held = [Window("task-1", T0 + timedelta(hours=2), T0 + timedelta(hours=26))]
    assert place(seen(1, 0), [], held, window=DAY, threshold=3) == Join("task-1")
    too_early = Seen("C0", T0 + timedelta(hours=2) - DAY - timedelta(minutes=1))
    assert place(too_early, [], held, window=DAY, threshold=3) is None


def test_a_late_case_completes_a_run_of_cases_handled_before_it() -> None:
    placed = place(seen(1, 0), [seen(2, 60), seen(3, 120)], [], window=DAY, threshold=3)
    assert isinstance(placed, Raise)
    assert [s.case_no for s in placed.cases] == ["C1", "C2", "C3"] and placed.start == T0


def test_the_largest_run_holding_the_case_wins() -> None:
    hours = {1: 0, 3: 30, 4: 35}
    free = [seen(i, h * 60) for i, h in hours.items()]
    placed = place(seen(2, 20 * 60), free, [], window=DAY, threshold=3)
    assert isinstance(placed, Raise)
    assert [s.case_no for s in placed.cases] == ["C2", "C3", "C4"]  # 20h–44h; 0h–24h has two only
    assert placed.start == T0 + timedelta(hours=20)


def test_after_a_window_only_free_cases_count_towards_a_new_one() -> None:
    held = [Window("task-1", T0, T0 + DAY)]
    first_after = seen(4, 24 * 60 + 10)
    assert place(first_after, [], held, window=DAY, threshold=3) is None
    again = place(seen(6, 24 * 60 + 30), [first_after, seen(5, 24 * 60 + 20)], held, window=DAY, threshold=3)
    assert isinstance(again, Raise)
    assert [s.case_no for s in again.cases] == ["C4", "C5", "C6"]
    assert again.start == first_after.at and again.start > held[0].end  # windows never overlap


def test_a_new_window_ends_before_a_later_one_starts() -> None:
    later = Window("task-2", T0 + timedelta(hours=25, minutes=1), T0 + timedelta(hours=49, minutes=1))
    placed = place(seen(3, 60), [seen(1, 0), seen(2, 30)], [later], window=DAY, threshold=3)
    assert isinstance(placed, Raise) and placed.end == T0 + DAY < later.start


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
