"""A worklist task's life cycle: done is final, a snooze runs out by itself, snoozes are bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.referral.domain.lifecycle import TransitionRefused
from services.referral.domain.tasks import (
    TASK_MACHINE,
    SnoozeRefused,
    TaskState,
    check_snooze,
    effective_status,
)

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MAX = timedelta(days=90)


def test_open_and_snoozed_tasks_can_be_done_or_snoozed_and_done_is_final() -> None:
    assert TASK_MACHINE.apply("open", "done") is TaskState.done
    assert TASK_MACHINE.apply("open", "snooze") is TaskState.snoozed
    assert TASK_MACHINE.apply("snoozed", "snooze") is TaskState.snoozed
    assert TASK_MACHINE.apply("snoozed", "done") is TaskState.done
    with pytest.raises(TransitionRefused) as refused:
        TASK_MACHINE.apply("done", "snooze")
    assert refused.value.current_state == "done" and refused.value.allowed_actions == []


def test_a_snoozed_task_is_open_again_once_its_until_has_come() -> None:
    until = NOW + timedelta(hours=2)
    assert effective_status("snoozed", until, NOW) is TaskState.snoozed
    assert effective_status("snoozed", until, until) is TaskState.open
    assert effective_status("done", None, NOW) is TaskState.done


@pytest.mark.parametrize(
    ("until", "message"),
    [
        (NOW - timedelta(minutes=1), "晚于当前时间"),
        (NOW, "晚于当前时间"),
        (NOW + MAX + timedelta(seconds=1), "90 天"),
        (datetime(2026, 3, 3, 9, 0), "时区"),
    ],
)
def test_a_snooze_must_lie_ahead_within_the_longest_allowed(until: datetime, message: str) -> None:
    with pytest.raises(SnoozeRefused, match=message):
        check_snooze(until, NOW, MAX)


def test_a_snooze_within_bounds_is_accepted() -> None:
    check_snooze(NOW + MAX, NOW, MAX)
