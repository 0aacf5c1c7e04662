"""Deadline policies as data (procedures per category) and the deadlines computed under them.

A :class:`Procedure` ("135" by default, ``petition`` for 信访) says how long each step may take; it is
loaded from ``services/referral/data/procedures.yaml`` by
:func:`services.referral.domain.procedure_documents.load_procedures`. A :class:`Deadline`
keeps everything it was computed from (procedure id and version, limit, start, extension, pauses),
so it can be recomputed when an official holiday schedule arrives (:func:`recompute`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from hub.contracts.vocabulary import Colour, ResponseLevel

from .calendar import ONE_DAY, WORKING_DAY, ClockKind, Pause, WorkingCalendar
from .supervision import DEFAULT_POLICY, SupervisionPolicy


class LimitUnit(StrEnum):
    minutes = "minutes"
    hours = "hours"
    working_days = "working_days"
    calendar_days = "calendar_days"

    @property
    def clock(self) -> ClockKind:
        return _UNIT_CLOCK[self]

    @property
    def length(self) -> timedelta:
        """Counted time in one unit on the unit's clock."""
        return _UNIT_LENGTH[self]


_UNIT_CLOCK = {
    LimitUnit.minutes: ClockKind.wall,
    LimitUnit.hours: ClockKind.wall,
    LimitUnit.working_days: ClockKind.working,
    LimitUnit.calendar_days: ClockKind.calendar_days,
}
_UNIT_LENGTH = {
    LimitUnit.minutes: timedelta(minutes=1),
    LimitUnit.hours: timedelta(hours=1),
    LimitUnit.working_days: WORKING_DAY,
    LimitUnit.calendar_days: ONE_DAY,
}
_LIMIT_TEXT = re.compile(r"^\s*(\d+)\s+([a-z_]+?)s?\s*$")


@dataclass(frozen=True)
class TimeLimit:
    """A time limit as policy data: an amount of a unit, e.g. ``7 working_days`` or ``30 minutes``."""

    amount: int
    unit: LimitUnit

    @property
    def clock(self) -> ClockKind:
        return self.unit.clock

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"

    @classmethod
    def parse(cls, text: str) -> TimeLimit:
        """``"30 minutes"``, ``"2 hours"``, ``"1 working_day"``, ``"15 calendar_days"`` (singular or plural)."""
        match = _LIMIT_TEXT.match(text)
        unit_name = match.group(2) if match else ""
        units = {u.value.removesuffix("s"): u for u in LimitUnit}
        if match is None or unit_name not in units:
            choices = ", ".join(u.value for u in LimitUnit)
            raise ValueError(f"expected '<whole number> <unit>' with unit one of {choices}, got {text!r}")
        return cls(int(match.group(1)), units[unit_name])


class DeadlineKind(StrEnum):
    acknowledge = "acknowledge"  # 报到/签收
    handling = "handling"  # 办理
    meeting = "meeting"  # 联席会商 held
    acceptance = "acceptance"  # 信访: decide whether to accept (受理告知)
    return_window = "return_window"  # 退回 allowed until


@dataclass(frozen=True)
class ProcedureRef:
    id: str
    version: int

    def __str__(self) -> str:
        return f"{self.id}@v{self.version}"


@dataclass(frozen=True)
class ExtensionRule:
    max_total: TimeLimit  # over all extensions of one deadline
    request_before_due: bool = True


@dataclass(frozen=True)
class Procedure:
    id: str
    version: int
    name_zh: str
    is_default: bool
    categories: frozenset[str]
    acknowledge: Mapping[Colour, TimeLimit]
    handling: Mapping[ResponseLevel, TimeLimit]
    extension: ExtensionRule
    return_window: TimeLimit
    meeting: TimeLimit | None = None  # joint consultation only
    acceptance: TimeLimit | None = None

    @property
    def ref(self) -> ProcedureRef:
        return ProcedureRef(self.id, self.version)


@dataclass(frozen=True)
class ProcedureBook:
    """All procedures in force, and the supervision ladder's numbers."""

    procedures: tuple[Procedure, ...]
    supervision: SupervisionPolicy = DEFAULT_POLICY

    def for_category(self, category: str) -> Procedure:
        """The procedure claiming ``category``, else the default one."""
        for procedure in self.procedures:
            if category in procedure.categories:
                return procedure
        return next(p for p in self.procedures if p.is_default)

    def get(self, procedure_id: str) -> Procedure:
        for procedure in self.procedures:
            if procedure.id == procedure_id:
                return procedure
        raise KeyError(f"no procedure {procedure_id!r}")


PROCEDURE_SOURCE = "procedure"


@dataclass(frozen=True)
class ExternalLimit:
    """A time limit another system holds us to (12345's 办理时限 ``limitTime``): a deadline computed
    under it is never later than ``due_at``. ``source`` says whose, e.g. ``hotline12345.limitTime``."""

    due_at: datetime
    source: str


@dataclass(frozen=True)
class Deadline:
    """A due time and everything needed to explain or recompute it.

    ``due_at`` is the effective deadline: our own (``own_due_at``, from the procedure) unless an
    ``external`` limit is earlier, and never earlier than ``floor`` (a handling deadline cannot fall
    before the acknowledge deadline: the department must be able to sign for the work first).
    """

    kind: DeadlineKind
    procedure: ProcedureRef
    limit: TimeLimit
    started_at: datetime
    due_at: datetime
    provisional: bool
    provisional_years: frozenset[int] = field(default_factory=frozenset)
    extension: int = 0  # approved extension, in the limit's unit
    pauses: tuple[Pause, ...] = ()
    external: ExternalLimit | None = None
    floor: datetime | None = None
    own_due_at: datetime | None = None  # ours, before the external limit (None: same as due_at)

    @property
    def clock(self) -> ClockKind:
        return self.limit.clock

    @property
    def source(self) -> str:
        """Whose limit the deadline is: ``procedure`` (ours) or the external limit's source."""
        own = self.own_due_at or self.due_at
        if self.external is not None and self.external.due_at < own:
            return self.external.source
        return PROCEDURE_SOURCE

    @property
    def floored(self) -> bool:
        """The external limit was earlier than the floor: the deadline is the floor, past their limit."""
        return (
            self.external is not None
            and self.source != PROCEDURE_SOURCE
            and self.due_at > self.external.due_at
        )

    def is_missed(self, now: datetime) -> bool:
        """A deadline is missed from its due instant on (the same instant ordinary supervision starts)."""
        return now >= self.due_at


class ExtensionRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- computing deadlines ------------------------------------------------------------------------


def compute_deadline(
    kind: DeadlineKind,
    procedure: ProcedureRef,
    limit: TimeLimit,
    started_at: datetime,
    calendar: WorkingCalendar,
    *,
    extension: int = 0,
    pauses: Sequence[Pause] = (),
    external: ExternalLimit | None = None,
    floor: datetime | None = None,
) -> Deadline:
    amount = (limit.amount + extension) * limit.unit.length
    result = calendar.add(started_at, amount, limit.clock, pauses=pauses)
    return Deadline(
        kind=kind,
        procedure=procedure,
        limit=limit,
        started_at=started_at,
        due_at=effective_due(result.due, external, floor),
        provisional=result.provisional,
        provisional_years=result.provisional_years,
        extension=extension,
        pauses=tuple(pauses),
        external=external,
        floor=floor,
        own_due_at=result.due,
    )


def effective_due(own: datetime, external: ExternalLimit | None, floor: datetime | None) -> datetime:
    """The earlier of ours and theirs, but never before ``floor``.

    An external limit that is already past (or earlier than the acknowledge deadline) cannot be met
    by anyone: the deadline is then the floor, and the read says so (``Deadline.floored``) so the
    centre asks the other system for more time (延期申请) rather than the watchdog carding a
    department for a limit it never had.
    """
    due = own if external is None else min(own, external.due_at)
    return due if floor is None else max(due, min(floor, own))


def recompute(
    deadline: Deadline,
    calendar: WorkingCalendar,
    *,
    extension: int | None = None,
    pauses: Sequence[Pause] | None = None,
    external: ExternalLimit | None = None,
) -> Deadline:
    """The same deadline under ``calendar`` (e.g. once a year's schedule is loaded), same procedure;
    ``external`` replaces the external limit (the other system moved it), else it is kept."""
    return compute_deadline(
        deadline.kind,
        deadline.procedure,
        deadline.limit,
        deadline.started_at,
        calendar,
        extension=deadline.extension if extension is None else extension,
        pauses=deadline.pauses if pauses is None else pauses,
        external=deadline.external if external is None else external,
        floor=deadline.floor,
    )


def acknowledge_deadline(
    procedure: Procedure, colour: Colour, dispatched_at: datetime, calendar: WorkingCalendar
) -> Deadline:
    limit = procedure.acknowledge[Colour(colour)]
    return compute_deadline(DeadlineKind.acknowledge, procedure.ref, limit, dispatched_at, calendar)


def handling_deadline(
    procedure: Procedure,
    level: ResponseLevel,
    dispatched_at: datetime,
    calendar: WorkingCalendar,
    *,
    extension: int = 0,
    pauses: Sequence[Pause] = (),
    external: ExternalLimit | None = None,
    floor: datetime | None = None,
) -> Deadline:
    """The handling deadline counts from dispatch; approved extensions and suspensions push it out.
    An external limit (12345's 办理时限) caps it, never below ``floor`` (the acknowledge deadline)."""
    limit = procedure.handling[ResponseLevel(level)]
    return compute_deadline(
        DeadlineKind.handling,
        procedure.ref,
        limit,
        dispatched_at,
        calendar,
        extension=extension,
        pauses=pauses,
        external=external,
        floor=floor,
    )


def meeting_deadline(
    procedure: Procedure, level: ResponseLevel, dispatched_at: datetime, calendar: WorkingCalendar
) -> Deadline | None:
    """By when the joint consultation meeting must be held; None unless the level is joint consultation."""
    if ResponseLevel(level) is not ResponseLevel.joint_consultation or procedure.meeting is None:
        return None
    return compute_deadline(DeadlineKind.meeting, procedure.ref, procedure.meeting, dispatched_at, calendar)


def acceptance_deadline(
    procedure: Procedure, received_at: datetime, calendar: WorkingCalendar
) -> Deadline | None:
    """信访: by when to decide whether to accept; None for procedures without that step."""
    if procedure.acceptance is None:
        return None
    return compute_deadline(
        DeadlineKind.acceptance, procedure.ref, procedure.acceptance, received_at, calendar
    )


def return_window(procedure: Procedure, dispatched_at: datetime, calendar: WorkingCalendar) -> Deadline:
    return compute_deadline(
        DeadlineKind.return_window, procedure.ref, procedure.return_window, dispatched_at, calendar
    )


def can_return(
    procedure: Procedure, dispatched_at: datetime, now: datetime, calendar: WorkingCalendar
) -> bool:
    """A referral may be returned (退回) until the window closes; at its end instant it is too late."""
    return now < return_window(procedure, dispatched_at, calendar).due_at


def check_extension_request(procedure: Procedure, deadline: Deadline, requested: int, now: datetime) -> None:
    """Refuse (``ExtensionRefused``) a request that breaks the procedure's extension rule.

    ``requested`` is in the deadline's unit (working days for "135", calendar days for petitions).
    """
    rule = procedure.extension
    if requested < 1:
        raise ExtensionRefused("not_positive", f"an extension must be at least 1 {deadline.limit.unit.value}")
    if rule.max_total.unit is not deadline.limit.unit:
        raise ExtensionRefused(
            "wrong_unit",
            f"extensions are counted in {rule.max_total.unit.value}, the deadline in "
            f"{deadline.limit.unit.value}",
        )
    if rule.request_before_due and deadline.is_missed(now):
        raise ExtensionRefused(
            "after_deadline",
            f"an extension must be asked before the deadline ({deadline.due_at.isoformat()})",
        )
    if deadline.extension + requested > rule.max_total.amount:
        left = rule.max_total.amount - deadline.extension
        raise ExtensionRefused(
            "exceeds_total",
            f"extensions may total at most {rule.max_total}; {deadline.extension} already granted, {left} left",
        )


def grant_extension(
    procedure: Procedure, deadline: Deadline, granted: int, calendar: WorkingCalendar
) -> Deadline:
    """The deadline after the centre approves ``granted`` more units (the total rule is re-checked)."""
    total = deadline.extension + granted
    if granted < 1 or total > procedure.extension.max_total.amount:
        raise ExtensionRefused(
            "exceeds_total", f"extensions may total at most {procedure.extension.max_total}"
        )
    return recompute(deadline, calendar, extension=total)


def default_response_level(colour: Colour, department_count: int) -> ResponseLevel:
    """RULES.md: red cases default to joint consultation; two or more departments to at least time-limited."""
    if Colour(colour) is Colour.red:
        return ResponseLevel.joint_consultation
    if department_count >= 2:
        return ResponseLevel.time_limited
    return ResponseLevel.immediate
