"""Tasks of a centre's worklist (待办): their kinds, life cycle and the checks on a snooze (pure).

```
open ──done──► done
  │  ▲
snooze │ (until passes: open again, by reading, no job)
  ▼  │
snoozed ──done──► done        snoozed ──snooze──► snoozed (a new `until`)
```
`done` is final: acting on a done task is refused (HTTP 409 naming the state and the allowed
actions). A snoozed task whose `until` has passed *is* open: :func:`effective_status` says so, and
the worklist shows it among the open ones, due at `until`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from .lifecycle import StateMachine


class TaskKind(StrEnum):
    follow_up = "follow_up"  # 三色管理: a closed case's follow-up visit fell due
    weak_signal_burst = "weak_signal_burst"  # 弱信号: cases of one category bunched in a grid or street
    repeat_reporter = "repeat_reporter"  # 弱信号: one reporter, many cases
    grid_visit = "grid_visit"  # 网格核查: the centre sent a case to a grid worker for an on-site check
    key_person_visit = "key_person_visit"  # 重点人员 / 七色户卡: a key person's visit by colour cadence

    @property
    def label_zh(self) -> str:
        return _LABELS[self]


_LABELS = {
    TaskKind.follow_up: "三色回访",
    TaskKind.weak_signal_burst: "弱信号预警：高发聚集",
    TaskKind.repeat_reporter: "弱信号预警：重复反映",
    TaskKind.grid_visit: "网格核查",
    TaskKind.key_person_visit: "重点人员（户）走访",
}


class TaskState(StrEnum):
    open = "open"
    snoozed = "snoozed"
    done = "done"


class TaskAction(StrEnum):
    done = "done"
    snooze = "snooze"


_T, _TA = TaskState, TaskAction

TASK_MACHINE: StateMachine[TaskState, TaskAction] = StateMachine(
    name="task",
    states=TaskState,
    actions=TaskAction,
    transitions={
        _T.open: {_TA.done: _T.done, _TA.snooze: _T.snoozed},
        _T.snoozed: {_TA.done: _T.done, _TA.snooze: _T.snoozed},
        _T.done: {},
    },
    ranks={_T.open: 0, _T.snoozed: 1, _T.done: 2},
)


def effective_status(status: str, snoozed_until: datetime | None, now: datetime) -> TaskState:
    """A snoozed task is open again once its `until` has come."""
    state = TaskState(status)
    if state is TaskState.snoozed and (snoozed_until is None or snoozed_until <= now):
        return TaskState.open
    return state


class SnoozeRefused(ValueError):
    pass


def check_snooze(until: datetime, now: datetime, max_snooze: timedelta) -> None:
    """`until` must lie ahead, and not further than the configured longest snooze."""
    if until.tzinfo is None or until.utcoffset() is None:
        raise SnoozeRefused("until 须带时区（例如 2026-03-05T09:00:00+08:00）")
    if until <= now:
        raise SnoozeRefused("until 须晚于当前时间")
    if until - now > max_snooze:
        raise SnoozeRefused(f"最长可推迟 {max_snooze.days} 天")
