"""Events said by referral (中心吹哨、部门报到)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, model_validator

from hub.contracts.base import Contract
from hub.contracts.vocabulary import Category, Colour


class ReferralDispatchedV1(Contract):
    TYPE = "referral.dispatched.v1"

    referral_id: str
    case_no: str
    department: str
    department_name: str = ""
    role: str  # lead | assisting
    colour: Colour
    category: Category
    ack_due_at: datetime
    due_at: datetime
    deadline_provisional: bool = False
    case_trace_id: str | None = None


class CaseDispatchedV1(Contract):
    TYPE = "case.dispatched.v1"

    case_no: str
    lead: str
    assisting: list[str] = Field(default_factory=list)
    due_at: datetime


class CaseQueuedForDispatcherV1(Contract):
    """No routing rule matched: the case waits in the dispatcher's manual queue, never nowhere."""

    TYPE = "case.queued_for_dispatcher.v1"

    case_no: str
    reason: str


class ReferralSupervisionRaisedV1(Contract):
    """A referral climbed one step of the supervision ladder (督办): notification tells the department.

    level: reminder (提醒) | ordinary (普通督办) | yellow_card (黄牌督办) | red_card (红牌督办).
    due_at: the deadline the step is about. overdue: whole working days past `due_at` (0 for
    reminder and ordinary). stage: which deadline, acknowledge (报到签收) or handling (办理答复).
    """

    TYPE = "referral.supervision_raised.v1"

    referral_id: str
    case_no: str
    department: str  # unit code, e.g. community@150203001000
    level: Literal["reminder", "ordinary", "yellow_card", "red_card"]
    due_at: datetime
    overdue: int = Field(default=0, ge=0)
    stage: Literal["acknowledge", "handling"] = "handling"


class ReferralExtensionDecidedV1(Contract):
    """The centre approved or denied a department's extension request (延期申请).

    Approved: `new_due_at` is the extended deadline (required). Denied: `due_at` is the deadline
    that stands (required).
    """

    TYPE = "referral.extension_decided.v1"

    referral_id: str
    case_no: str
    department: str
    approved: bool
    new_due_at: datetime | None = None
    due_at: datetime | None = None

    @model_validator(mode="after")
    def _deadline_present(self) -> ReferralExtensionDecidedV1:
        if self.approved and self.new_due_at is None:
            raise ValueError("an approved extension needs new_due_at")
        if not self.approved and self.due_at is None:
            raise ValueError("a denied extension needs due_at (the deadline that stands)")
        return self


class CaseRepliedV1(Contract):
    """The lead department replied (办结): the citizen hears so, and is invited to rate it (回访)."""

    TYPE = "case.replied.v1"

    case_no: str
    lead_department_name: str
    replied_at: datetime | None = None


# --- The department workflow, callback and closure (referral dispatch issue) ----------------------
# Every event below says who acted: `actor_role` (centre | department | adapter | ops | system |
# supervisor) and `actor_department` (a unit code for department callers), never a person. The
# classes above that predate this section (referral.dispatched, case.dispatched, case.queued_for_dispatcher,
# referral.supervision_raised, referral.extension_decided, case.replied) are emitted with the same two
# keys added to their data (and, where useful, `round` and `deadline_kind`): consumers ignore fields
# they do not know.

ActorRole = Literal["centre", "department", "adapter", "ops", "system", "supervisor", "grid_worker"]
ReturnReasonCode = Literal["not_our_duty", "wrong_area", "insufficient_info", "duplicate", "other"]
ReplyOutcome = Literal["resolved", "mediated", "partially_resolved", "unresolved", "referred_to_litigation"]


class ActedBy(Contract):
    actor_role: ActorRole = "system"
    actor_department: str | None = None  # unit code, e.g. housing_bureau@150203


class ReferralAcknowledgedV1(ActedBy):
    """The department signed for the referral (报到/签收)."""

    TYPE = "referral.acknowledged.v1"

    referral_id: str
    case_no: str
    department: str
    role: str  # lead | assisting
    acknowledged_at: datetime
    late: bool = False  # after the acknowledge deadline


class ReferralStartedV1(ActedBy):
    TYPE = "referral.started.v1"

    referral_id: str
    case_no: str
    department: str


class ReferralReturnedV1(ActedBy):
    """The department returned the referral (退回); the case is back in the dispatcher's queue."""

    TYPE = "referral.returned.v1"

    referral_id: str
    case_no: str
    department: str
    role: str
    reason_code: ReturnReasonCode
    returned_at: datetime


class ReferralExtensionRequestedV1(ActedBy):
    """The department asked for more time (延期申请); the centre decides (referral.extension_decided)."""

    TYPE = "referral.extension_requested.v1"

    referral_id: str
    case_no: str
    department: str
    amount: int  # in `unit`: working_days ("135"), calendar_days (信访)
    unit: str
    due_at: datetime  # the deadline the request is about
    requested_at: datetime
    # Added for the dual track (defaults keep older consumers and events valid):
    role: str | None = None  # lead | assisting
    round: int | None = None
    extension_id: int | None = None  # referral's own number for the request (one per request)
    reason: str | None = None  # the department's reason (phone and ID numbers redacted)
    # The lead's deadline is bound by a channel's limit (12345's limitTime): the limit now, and the
    # limit the request asks that channel for (the same amount added to theirs).
    external_source: str | None = None
    external_due_at: datetime | None = None
    requested_external_due_at: datetime | None = None


class ReferralSuspendedV1(ActedBy):
    """The referral waits on the citizen: its handling clock stops (中止计时)."""

    TYPE = "referral.suspended.v1"

    referral_id: str
    case_no: str
    department: str
    suspended_at: datetime


class ReferralResumedV1(ActedBy):
    """The clock runs again; `due_at` is the handling deadline moved out by the paused time."""

    TYPE = "referral.resumed.v1"

    referral_id: str
    case_no: str
    department: str
    resumed_at: datetime
    due_at: datetime


class ReferralRepliedV1(ActedBy):
    """A department replied (答复); the lead's reply makes the case `replied`."""

    TYPE = "referral.replied.v1"

    referral_id: str
    case_no: str
    department: str
    department_name: str = ""
    role: str
    outcome: ReplyOutcome
    replied_at: datetime
    late: bool = False


class ReferralCancelledV1(ActedBy):
    """An open referral ends because its case closed, was merged or withdrawn, or was re-routed."""

    TYPE = "referral.cancelled.v1"

    referral_id: str
    case_no: str
    department: str
    reason: Literal["case_closed", "case_merged", "case_withdrawn", "case_returned", "rerouted"]


class CaseReopenedV1(ActedBy):
    """The citizen was dissatisfied (不满意): the case goes round again (`round` is the new round)."""

    TYPE = "case.reopened.v1"

    case_no: str
    round: int
    satisfaction: str | None = None
    reopened_at: datetime


class CaseClosedV1(ActedBy):
    """销号. reason: callback (rated) | anonymous_reporter | centre (closed without a rating)."""

    TYPE = "case.closed.v1"

    case_no: str
    reason: str
    satisfaction: str | None = None
    colour: Colour
    closed_at: datetime


class CaseWithdrawnV1(ActedBy):
    TYPE = "case.withdrawn.v1"

    case_no: str
    withdrawn_at: datetime


class CaseReturnedToChannelV1(ActedBy):
    """回退: the centre decided the case is not the hub's to handle and gives it back to the channel it
    came from (the 12345 work order goes back to the platform's dispatch), with a coded reason."""

    TYPE = "case.returned_to_channel.v1"

    case_no: str
    channel: str
    reason_code: ReturnReasonCode
    reason: str  # the centre's words (phone and ID numbers redacted)
    returned_at: datetime


class CaseExternalExtensionAnsweredV1(ActedBy):
    """The channel answered our extension request (12345 延期审核): approved moves the case's `due_by`
    and the lead's handling deadline under it; denied leaves both and is recorded."""

    TYPE = "case.external_extension_answered.v1"

    case_no: str
    source: str  # whose limit, e.g. hotline12345.limitTime
    approved: bool
    due_by: datetime | None  # the channel's limit in force after the answer
    previous_due_by: datetime | None = None
    referral_id: str | None = None  # the lead referral whose handling deadline it binds
    department: str | None = None
    due_at: datetime | None = None  # that referral's effective handling deadline after the answer
    previous_due_at: datetime | None = None
    external_id: str | None = None  # the channel's number for its answer (12345 delayId)
    note: str | None = None  # the channel's opinion (审核意见), redacted


class CaseMeetingHeldV1(ActedBy):
    """A joint consultation meeting (联席会商) was held and recorded."""

    TYPE = "case.meeting_held.v1"

    case_no: str
    held_at: datetime
    departments: list[str] = Field(default_factory=list)


class CaseReferredToCourtV1(ActedBy):
    """信调裁诉: an unresolved case is sent on to arbitration or the court (the court adapter takes it)."""

    TYPE = "case.referred_to_court.v1"

    case_no: str
    to: Literal["arbitration", "court"]
    outcome: ReplyOutcome
    category: Category
    colour: Colour
    street_code: str | None = None
    referred_at: datetime


class CaseFollowUpDueV1(ActedBy):
    """三色管理: a closed red/orange/yellow case is due a follow-up visit (daily/weekly/monthly)."""

    TYPE = "case.follow_up_due.v1"

    case_no: str
    colour: Colour
    cadence: str  # daily | weekly | monthly
    sequence: int  # 1 for the first follow-up
    scheduled_at: datetime
    last: bool = False


# --- tiered centres (分级调处) and holiday schedules -----------------------------------------------


class CaseCentreAssignedV1(ActedBy):
    """The case belongs to a centre from registration on: its home, the deepest centre of its area."""

    TYPE = "case.centre_assigned.v1"

    case_no: str
    centre_id: str  # the centre's area code (GB/T 2260 district or 12-digit statistical code)
    centre_level: Literal["community", "street", "district"]
    centre_name: str = ""


class CaseCentreMovedV1(ActedBy):
    """上报 (kind=escalated, to the parent, reason required) or 下派 (kind=delegated, to a centre below).

    The case is then dispatched within the new centre's area, to that level's units."""

    TYPE = "case.centre_moved.v1"

    case_no: str
    kind: Literal["escalated", "delegated"]
    from_centre: str
    from_level: Literal["community", "street", "district"]
    to_centre: str
    to_level: Literal["community", "street", "district"]
    reason: str | None = None


class CaseDistrictAlertedV1(ActedBy):
    """A red case held by a street or community centre is put before the district centre at once."""

    TYPE = "case.district_alerted.v1"

    case_no: str
    district_centre: str
    holding_centre: str
    colour: Colour


class ScheduleLoadedV1(ActedBy):
    """An official holiday schedule (节假日安排) was loaded; provisional deadlines were recomputed."""

    TYPE = "referral.schedule_loaded.v1"

    year: int
    source: str
    holidays: int
    workdays: int
    recomputed: int  # deadlines recomputed because of it (once each)


class DeadlinesProvisionalV1(ActedBy):
    """Ops warning: deadlines were computed on weekends only for years no schedule covers yet."""

    TYPE = "referral.deadlines_provisional.v1"

    case_no: str
    referral_id: str
    years: list[int]


class DeadlinesRecomputedV1(ActedBy):
    """A referral's provisional deadlines were recomputed with a loaded schedule (exactly once)."""

    TYPE = "referral.deadlines_recomputed.v1"

    case_no: str
    referral_id: str
    department: str
    due_at: datetime
    previous_due_at: datetime
    year: int


# --- the worklist (issue 12): follow-ups and weak signals become tasks for a centre -----------------

TaskKind = Literal["follow_up", "weak_signal_burst", "repeat_reporter", "grid_visit", "key_person_visit"]


class TaskCreatedV1(ActedBy):
    """A task for a centre's worklist: a follow-up fell due (三色管理), or a weak signal was seen
    (弱信号: a burst of one category in one grid or street, a repeat reporter). Said once per task;
    notification tells the person configured for the centre and kind.

    case_no: the follow-up's case, or the case whose registration raised the signal. centre_path: the
    centre and its ancestors up to the district (whom to tell when the centre itself has no contact).
    Codes, counts and case numbers only: never a name or a phone; the reporter is not in it.
    """

    TYPE = "referral.task_created.v1"

    task_id: str
    kind: TaskKind
    centre_id: str
    centre_path: list[str] = Field(default_factory=list)
    case_no: str
    due_at: datetime
    case_count: int = 1
    category: Category | None = None
    # follow_up
    colour: Colour | None = None
    cadence: str | None = None  # daily | weekly | monthly
    sequence: int | None = None
    # weak signals: the window the cases fall in; for a burst, where (scope grid | street, its code)
    window_start: datetime | None = None
    window_end: datetime | None = None
    scope: Literal["grid", "street"] | None = None
    area: str | None = None
    area_name: str | None = None  # the centre's name when the area is a centre's (a street, a community)
    grid: str | None = None  # the grid (网格) whose worker does it (decision 0024)


class TaskDoneV1(ActedBy):
    """Centre staff marked a task done (the follow-up visit made, the signal looked into)."""

    TYPE = "referral.task_done.v1"

    task_id: str
    kind: TaskKind
    centre_id: str
    case_no: str
    done_at: datetime


class TaskSnoozedV1(ActedBy):
    """Centre staff put a task off until `until`; it is back in the open worklist from then."""

    TYPE = "referral.task_snoozed.v1"

    task_id: str
    kind: TaskKind
    centre_id: str
    case_no: str
    until: datetime
