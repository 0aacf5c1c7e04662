"""Events of the grid workers' work (网格员, issue 18; docs/decisions/0024-grid-workers.md).

Codes, counts and ids only: never a name, a phone, a note's text, an attachment's name or content.
`person_id` is the acting person's user id: the gateway's timeline shows their display name from its
own accounts table when it is read (names never travel in events).
"""

from __future__ import annotations

from datetime import datetime

from hub.contracts.base import Contract


class GridReportFiledV1(Contract):
    """A grid worker reported a matter from the street (随手记): intake registered it as a case on
    channel grid_app in the same transaction (case.registered.v1 beside this)."""

    TYPE = "intake.grid_report_filed.v1"

    case_no: str
    grid: str
    actor_role: str = "grid_worker"
    person_id: str | None = None  # the grid worker's user id
    attachments: int = 0
    has_point: bool = False
    reported_at: datetime


class TaskVisitedV1(Contract):
    """A grid worker checked in on site for a task (上门走访/现场核查): when, the outcome, and the task's
    status after it (done, or still open when nobody could be met)."""

    TYPE = "referral.task_visited.v1"

    task_id: str
    kind: str
    grid: str
    centre_id: str
    case_no: str
    outcome: str
    status: str
    visited_at: datetime
    actor_role: str = "grid_worker"
    person_id: str | None = None  # the grid worker's user id
