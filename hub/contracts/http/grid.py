"""The grid workers' API (网格员, issue 18; docs/decisions/0024-grid-workers.md): what
`POST /api/v1/grid/reports`, `GET /api/v1/grid/tasks`, `POST /api/v1/grid/tasks/{id}/visit` and the
centre's `POST /api/v1/cases/{case_no}/grid-tasks` take and answer. The gateway validates with these
and forwards to intake (reports) or referral (tasks) unchanged; unknown fields are refused.

Photos travel in the JSON body, base64 (a mobile app posts one request it can retry whole while
offline); their size, type and count limits are intake's settings (docs/settings.md).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

GRID_CODE = r"^[A-Za-z0-9_\-.]{1,64}$"  # as intake's location.grid_code
MAX_ATTACHMENTS = 20  # the shape's bound; HUB_INTAKE_ATTACHMENT_MAX_COUNT is the product's
# base64 of the largest attachment intake could be configured to take (64 MiB)
MAX_BASE64_CHARS = 4 * ((64 << 20) // 3 + 1)


def _no_control(value: str, allowed: str) -> str:
    for ch in value:
        if ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs"):
            raise PydanticCustomError("control_character", "contains a control character")
    return value


def _single_line(value: str) -> str:
    return _no_control(value, "")


def _multi_line(value: str) -> str:
    return _no_control(value, "\n\r\t")


GridCode = Annotated[str, StringConstraints(pattern=GRID_CODE)]
OneLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_multi_line)
]
VisitOutcome = Literal["resolved", "verified", "not_found", "unreachable"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_Body):
    """A GPS point (WGS-84, as the phone gives it), with its accuracy in metres when known."""

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)


class AttachmentIn(_Body):
    file_name: Annotated[OneLine, AfterValidator(_single_line)] = Field(
        description="the file's name on the device (stored; never logged)"
    )
    content_type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=100)]
    content_base64: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BASE64_CHARS)]


class GridReportIn(_Body):
    """A matter seen in the street (随手记). `client_id` is the app's own id of the report: sent again
    (the app retries after being offline) it is the same case."""

    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-.:]{8,64}$")]
    grid: GridCode | None = Field(
        default=None, description="the worker's grid (default: theirs; another: 403)"
    )
    title: Annotated[OneLine, AfterValidator(_single_line)]
    description: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=5000),
        AfterValidator(_multi_line),
    ]
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    point: Point | None = None
    observed_at: AwareDatetime | None = Field(default=None, description="when the worker saw it")
    request_type: Literal["consultation", "help", "complaint", "report", "suggestion"] = "report"
    category: Annotated[str, StringConstraints(max_length=64)] | None = None
    people_involved: int = Field(default=1, ge=1, le=100_000)
    flags: list[str] = Field(default_factory=list, max_length=20)
    reporter: dict[str, Any] | None = Field(
        default=None,
        description="the citizen concerned, as POST /api/v1/cases' reporter; default anonymous (the worker reports)",
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class AttachmentOut(BaseModel):
    id: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class GridReportOut(BaseModel):
    case_no: str
    colour: str
    created: bool  # false: this client id was reported before (the same case, nothing new stored)
    grid: str
    attachments: list[AttachmentOut]


class GridTaskIn(_Body):
    """The centre sends a case to a grid for an on-site check (交办网格核查)."""

    grid: GridCode
    note: Note = Field(
        description="交办说明: what to check and where (the worker sees it; phone and ID numbers masked)"
    )
    due_at: AwareDatetime | None = Field(
        default=None, description="default: HUB_REFERRAL_GRID_VISIT_HOURS ahead"
    )


class VisitIn(_Body):
    """On-site check-in (现场签到/走访): when and where, what was found, and a note."""

    visited_at: AwareDatetime
    point: Point
    outcome: VisitOutcome = Field(
        description="resolved 当场处置 | verified 核实属实 | not_found 现场未发现问题 | unreachable 未见到当事人 (stays open)"
    )
    note: Note


class VisitOut(BaseModel):
    id: int
    visited_at: datetime
    outcome: str
    latitude: float
    longitude: float
    recorded_at: datetime


class GridTaskOut(BaseModel):
    id: str
    kind: str  # grid_visit | follow_up | key_person_visit | …
    title: str
    status: str  # open | snoozed | done (effective)
    grid: str
    centre_id: str
    case_no: str
    category: str | None
    colour: str | None
    due_at: datetime  # a snoozed task: when it is back
    overdue: bool
    created_at: datetime
    instructions: str | None = None  # the centre's 交办说明 (a grid visit), phone and ID numbers masked
    visits: list[VisitOut]


class GridTaskPage(BaseModel):
    now: datetime
    grid: str
    items: list[GridTaskOut]


class GridTaskQuery(BaseModel):
    status: Literal["open", "done", "all"] = "open"
    limit: Annotated[int, Field(ge=1, le=500)] = 100
