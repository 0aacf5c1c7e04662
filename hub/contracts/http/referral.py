"""The referral service's HTTP models: the bodies its actions take and the read models it answers
with, under `/internal/v1` (cases, referrals, tiered centres, holiday schedules, the worklist).

The gateway exposes the same paths under `/api/v1` and can validate with these very models, so the two
sides cannot drift. Wire shape only: field names, types and bounds; the rules (who may act, what the
state allows) are the referral service's. Read models are never ORM rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from hub.contracts.referral import TaskKind

Text = Annotated[str, Field(min_length=1, max_length=2000)]
UnitCode = Annotated[str, Field(min_length=1, max_length=100)]
ReturnCode = Literal["not_our_duty", "wrong_area", "insufficient_info", "duplicate", "other"]
# Whose limit a deadline is when no channel's limit binds it (services.referral.domain.deadlines).
PROCEDURE_SOURCE = "procedure"


# --- case actions (centre, adapters) ------------------------------------------------------------------


class DispatchIn(BaseModel):
    lead: UnitCode
    assisting: list[UnitCode] = Field(default_factory=list, max_length=20)


class CallbackIn(BaseModel):
    satisfaction: Literal["satisfied", "basically_satisfied", "dissatisfied"]
    comment: Annotated[str, Field(max_length=2000)] | None = None


class CloseIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class WithdrawIn(BaseModel):
    reason: Text


class ReturnToChannelIn(BaseModel):
    reason_code: ReturnCode
    reason: Text


class ReferOnwardIn(BaseModel):
    to: Literal["arbitration", "court"]


class MeetingIn(BaseModel):
    held_at: AwareDatetime
    departments: list[UnitCode] = Field(min_length=1, max_length=30)
    decisions: list[Text] = Field(default_factory=list, max_length=50)


# --- referral actions (departments; the centre decides extensions) ------------------------------------


class ReturnIn(BaseModel):
    reason_code: ReturnCode
    reason: Text


class ExtensionIn(BaseModel):
    working_days: int = Field(
        ge=1, le=365, description="In the procedure's unit: working days (135), calendar days (信访)"
    )
    reason: Text


class DecisionIn(BaseModel):
    approved: bool
    note: Annotated[str, Field(max_length=2000)] | None = None


class ReplyIn(BaseModel):
    outcome: Literal["resolved", "mediated", "partially_resolved", "unresolved", "referred_to_litigation"]
    summary: Annotated[str, Field(min_length=1, max_length=4000)]


class SuspendIn(BaseModel):
    reason: Text


# --- tiered centres (分级调处) and holiday schedules ------------------------------------------------------


class EscalateIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="上报理由 (required)")]


class DelegateIn(BaseModel):
    to_centre: Annotated[str, Field(min_length=6, max_length=12, description="the lower centre's area code")]
    reason: Annotated[str, Field(max_length=2000)] | None = None


class CentreOut(BaseModel):
    id: str
    level: str
    name_zh: str
    parent_id: str | None


class UnitOut(BaseModel):
    """One unit of the department registry (1+7+N), as a dispatcher chooses lead and assisting."""

    code: str  # "<type>@<area>", what dispatch takes as lead / assisting
    name_zh: str
    type: str
    type_name_zh: str
    group: str  # resident | on_demand
    area_code: str
    area_name_zh: str | None
    system: str  # console | api | webhook


class ScheduleIn(BaseModel):
    text: Annotated[
        # A year's schedule is a few kilobytes; 64 KiB leaves room for comments and refuses the rest at once.
        str,
        Field(
            min_length=1, max_length=65_536, description="the schedule file (YAML or JSON), at most 64 KiB"
        ),
    ]
    source: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="where it came from (file name); the document's own `source` wins"
    )


class ScheduleLoadedOut(BaseModel):
    year: int
    source: str
    holidays: int
    workdays: int
    recomputed: int  # provisional deadlines recomputed (each exactly once)


# --- a case and its referrals, as read ----------------------------------------------------------------


class DeadlineOut(BaseModel):
    id: int
    kind: str  # acknowledge | handling | meeting | acceptance | return_window | follow_up
    status: str  # open | met | closed
    started_at: datetime
    due_at: datetime
    limit: str | None  # "7 working_days"; for follow_up the cadence
    procedure_id: str | None
    procedure_version: int | None
    extension: int
    provisional: bool
    provisional_years: list[int]
    supervision_level: str
    met_at: datetime | None
    next_check_at: datetime | None
    overdue: bool
    # Whose limit `due_at` is: "procedure" (ours) or an external one ("hotline12345.limitTime": the
    # earlier of ours and theirs applies); `why` says so in words for the console.
    source: str = PROCEDURE_SOURCE
    own_due_at: datetime | None = None  # ours, when an external limit is recorded
    external_due_at: datetime | None = None  # theirs
    floored: bool = False  # theirs was already past / before the acknowledge deadline
    why: str | None = None


class DueByOut(BaseModel):
    """An obligation the channel holds the case to (12345's 办理时限), and whose it is."""

    at: datetime
    source: str


class ExtensionOut(BaseModel):
    amount: int
    unit: str
    reason: str
    requested_at: datetime
    decided_at: datetime | None
    approved: bool | None
    note: str | None
    new_due_at: datetime | None


class ReferralOut(BaseModel):
    id: str
    case_no: str
    round: int
    department: str
    department_name: str
    role: str
    status: str
    suspended: bool
    dispatched_at: datetime
    ack_due_at: datetime
    due_at: datetime
    return_until: datetime
    deadline_provisional: bool
    supervision_level: str
    overdue: bool
    # Same as deadline_provisional: some deadline was counted on weekends only (a year no official
    # schedule covers yet); it is recomputed once when the schedule is loaded.
    provisional: bool = False
    centre_id: str | None = None  # the centre that dispatched it
    procedure_id: str
    procedure_version: int
    response_level: str
    acknowledged_at: datetime | None
    replied_at: datetime | None
    reply_outcome: str | None
    reply_summary: str | None
    returned_at: datetime | None
    return_reason_code: str | None
    return_reason: str | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    allowed_actions: list[str]
    deadlines: list[DeadlineOut]
    extensions: list[ExtensionOut]
    due_source: str = PROCEDURE_SOURCE  # whose limit `due_at` (handling) is, see DeadlineOut.source
    due_why: str | None = None


class QueueEntryOut(BaseModel):
    reason_code: str
    reason: str
    department: str | None
    referral_id: str | None
    queued_at: datetime
    resolved_at: datetime | None


class MeetingOut(BaseModel):
    held_at: datetime
    departments: list[str]
    decisions: list[str]
    recorded_at: datetime


class CentreMoveOut(BaseModel):
    kind: str  # assigned | escalated (上报) | delegated (下派)
    from_centre: str | None
    to_centre: str
    reason: str | None
    actor_role: str
    at: datetime


class CaseStateOut(BaseModel):
    case_no: str
    status: str
    colour: str
    category: str
    response_level: str
    manual_reason: str | None
    trace_id: str | None
    referrals: list[ReferralOut]
    intake_response_level: str
    round: int
    supervision_level: str  # the highest level among the current round's referrals
    overdue: bool
    anonymous: bool
    reply_outcome: str | None
    satisfaction: str | None
    close_reason: str | None
    closed_at: datetime | None
    merged_into: str | None
    referred_onward_to: str | None
    allowed_actions: list[str]
    dispatch_queue: list[QueueEntryOut]
    meetings: list[MeetingOut]
    follow_ups: list[DeadlineOut]
    # Any open referral of the case has a provisional deadline (see ReferralOut.provisional).
    provisional: bool = False
    # Tiered centres: who holds the case (area code and level), where it was finally resolved.
    centre_id: str | None = None
    centre_level: str | None = None
    resolved_centre_id: str | None = None
    resolved_level: str | None = None
    district_alerted_at: datetime | None = None
    centre_moves: list[CentreMoveOut] = []
    due_by: DueByOut | None = None  # the channel's limit in force (moves when it approves 延期)
    channel_return_code: str | None = None  # 回退 to the channel: the reason code
    channel_return_reason: str | None = None


class ReferralActionOut(BaseModel):
    changed: bool  # false: a late or repeated update, ignored (the state never moves backwards)
    referral: ReferralOut


class CaseActionOut(BaseModel):
    changed: bool
    case: CaseStateOut


class ReferralPage(BaseModel):
    items: list[ReferralOut]
    total: int
    page: int
    page_size: int


class QueuePage(BaseModel):
    items: list[CaseStateOut]  # the oldest waiting first, at most `limit`
    total: int = 0  # every case waiting in the caller's scope (more than `items` when capped)


# --- lists and statistics -----------------------------------------------------------------------------


class CaseSummaryOut(BaseModel):
    case_no: str
    status: str
    channel: str
    category: str
    colour: str
    response_level: str
    street_code: str | None
    registered_at: datetime
    updated_at: datetime
    lead_department: str | None  # the open (or latest) lead referral's unit
    supervision_level: str  # the highest level among its current round's referrals, as the case read
    overdue: bool  # an open referral past an open deadline
    provisional: bool  # a deadline counted on weekends only (that year's schedule not loaded)
    anonymous: bool
    close_reason: str | None
    trace_id: str | None


class CasePage(BaseModel):
    items: list[CaseSummaryOut]
    total: int
    page: int
    page_size: int


class LevelCount(BaseModel):
    level: str  # community | street | district
    resolved: int
    share: float  # of all resolved cases in scope, 0..1


class CentreCount(BaseModel):
    centre_id: str
    name_zh: str
    level: str
    resolved: int


class ResolutionLevelsOut(BaseModel):
    """Where cases were finally resolved (the seeds' "over 90% settled in the community")."""

    scope: str | None  # a centre id: that centre and those below it; None: everything
    from_: datetime = Field(serialization_alias="from")  # closings counted: [from, to)
    to: datetime
    resolved: int  # closed cases (rated, anonymous reply, closed by the centre); merged/withdrawn excluded
    by_level: list[LevelCount]
    by_centre: list[CentreCount]


class CentreCaseOut(BaseModel):
    case_no: str
    status: str
    colour: str
    category: str
    centre_id: str | None
    centre_level: str | None
    district_alerted_at: datetime | None
    resolved_level: str | None


class CentreCasesOut(BaseModel):
    centre_id: str
    items: list[CentreCaseOut]
    total: int


# --- the worklist (待办) --------------------------------------------------------------------------------


class DoneIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=2000, description="what was done (办理情况)")]


class SnoozeIn(BaseModel):
    until: AwareDatetime = Field(description="back in the open worklist from then (with a time zone)")
    note: Annotated[str, Field(max_length=2000)] | None = None


class TaskActionOut(BaseModel):
    action: str  # created | snoozed | done
    at: datetime
    actor_role: str
    actor_id: str | None  # the API client that acted (not a person's name)
    note: str | None  # phone and ID numbers masked; None for ops
    until: datetime | None


class TaskOut(BaseModel):
    id: str
    kind: str  # follow_up | weak_signal_burst | repeat_reporter
    title: str  # 三色回访 | 弱信号预警：高发聚集 | 弱信号预警：重复反映
    status: str  # open | snoozed | done (effective: a snooze that has run out is open)
    centre_id: str
    centre_name: str | None
    case_no: str  # the follow-up's case, or the latest case of a signal
    case_nos: list[str]  # a signal's cases, oldest first (a follow-up: its case)
    case_count: int
    category: str | None
    colour: str | None
    cadence: str | None
    sequence: int | None
    scope: str | None  # burst: grid | street
    area: str | None  # burst: the grid or street code
    reporter_key: str | None  # repeat reporter: a keyed hash, never a phone
    window_start: datetime | None
    window_end: datetime | None
    due_at: datetime
    # issue 18: the grid whose worker does it; a key_person_visit's registry id (no personal data)
    grid: str | None = None
    key_person_id: str | None = None
    snoozed_until: datetime | None
    done_at: datetime | None
    created_at: datetime
    updated_at: datetime
    allowed_actions: list[str]
    history: list[TaskActionOut]


class TaskPage(BaseModel):
    now: datetime
    total: int
    page: int
    page_size: int
    items: list[TaskOut]


class TaskResultOut(BaseModel):
    task: TaskOut


# --- list queries (the gateway's query parameters, public names, bounds and descriptions) ----------------

MAX_PAGE = 10_000  # a page number past this is a client error (a huge one overflowed the database: 500)
Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
PageSize = Annotated[int, Field(ge=1, le=200)]


class CaseListQuery(BaseModel):
    status: Annotated[str | None, Field(max_length=32, description="registered, dispatched, … closed")] = None
    colour: Annotated[str | None, Field(max_length=16, description="red | orange | yellow | blue")] = None
    category: Annotated[str | None, Field(max_length=64)] = None
    street_code: Annotated[
        str | None, Field(max_length=12, pattern=r"^[0-9]+$", description="a street code or its prefix")
    ] = None
    overdue: bool | None = None
    page: Page = 1
    page_size: PageSize = 50


class ReferralListQuery(BaseModel):
    status: Annotated[str | None, Field(max_length=32)] = None
    overdue: bool | None = None
    department: Annotated[str | None, Field(max_length=100)] = None
    case_no: Annotated[str | None, Field(max_length=32)] = None
    page: Page = 1
    page_size: PageSize = 50


class CentreCasesQuery(BaseModel):
    open_only: bool = True
    colour: Annotated[str | None, Field(max_length=16)] = None
    page: Page = 1
    page_size: PageSize = 50


class DispatchQueueQuery(BaseModel):
    # Each queued case is read whole (its referrals and deadlines): the queue is capped like any list.
    limit: Annotated[int, Field(ge=1, le=200, description="the oldest waiting cases, at most 200")] = 100


class ResolutionLevelsQuery(BaseModel):
    centre: Annotated[str | None, Field(max_length=12)] = None
    category: Annotated[str | None, Field(max_length=64)] = None
    from_: Annotated[AwareDatetime | None, Field(alias="from")] = None  # closed in [from, to)
    to: AwareDatetime | None = None


class TaskListQuery(BaseModel):
    centre: Annotated[str | None, Field(max_length=12, pattern=r"^[0-9]+$")] = None
    include_below: bool = False
    kind: TaskKind | None = None
    status: Literal["open", "snoozed", "done"] | None = None
    page: Page = 1
    page_size: PageSize = 50
