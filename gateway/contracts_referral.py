"""Request models of the public routes the gateway forwards to the referral service: department
actions on referrals, the centre's case actions, tiered centres, holiday schedules and the worklist,
and the query parameters of their lists.

One place for them until they move to hub/contracts/http/referral.py (shared with the referral
service, as intake's are in hub/contracts/http/intake.py); the route table (gateway/routes/table.py)
names them. Query models keep each parameter's public name, bounds and description.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

Text = Annotated[str, Field(min_length=1, max_length=2000)]
UnitCode = Annotated[str, Field(min_length=1, max_length=100, examples=["housing_bureau@150203"])]
ReturnCode = Literal["not_our_duty", "wrong_area", "insufficient_info", "duplicate", "other"]
Page = Annotated[int, Field(ge=1)]
PageSize = Annotated[int, Field(ge=1, le=200)]

# ---------------------------------------------------------------- referrals (department side)


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


# ---------------------------------------------------------------- the centre's case actions


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


# ---------------------------------------------------------------- tiered centres, holiday schedules


class EscalateIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000, description="上报理由 (required)")]


class DelegateIn(BaseModel):
    to_centre: Annotated[str, Field(min_length=6, max_length=12, examples=["150203001001"])]
    reason: Annotated[str, Field(max_length=2000)] | None = None


class ScheduleIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=200_000, description="YAML or JSON schedule file")]
    source: Annotated[str, Field(max_length=200)] | None = None


# ---------------------------------------------------------------- the worklist (待办)


class DoneIn(BaseModel):
    note: Annotated[str, Field(min_length=1, max_length=2000, description="what was done (办理情况)")]


class SnoozeIn(BaseModel):
    until: AwareDatetime = Field(description="back in the open worklist from then (with a time zone)")
    note: Annotated[str, Field(max_length=2000)] | None = None


# ---------------------------------------------------------------- list queries


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


class ResolutionLevelsQuery(BaseModel):
    centre: Annotated[str | None, Field(max_length=12)] = None
    category: Annotated[str | None, Field(max_length=64)] = None


class TaskListQuery(BaseModel):
    centre: Annotated[str | None, Field(max_length=12, pattern=r"^[0-9]+$")] = None
    include_below: bool = False
    kind: Literal["follow_up", "weak_signal_burst", "repeat_reporter"] | None = None
    status: Literal["open", "snoozed", "done"] | None = None
    page: Page = 1
    page_size: PageSize = 50
