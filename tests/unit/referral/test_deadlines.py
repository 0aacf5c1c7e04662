"""Deadline policies as data ("135" and 信访) and the deadlines computed under them."""

from __future__ import annotations

from datetime import datetime

import pytest

from hub.contracts.vocabulary import Colour, ResponseLevel
from hub.datafile import DataFileError
from services.referral.data import read_data_file
from services.referral.domain.calendar import ClockKind, Pause, WorkingCalendar
from services.referral.domain.deadlines import (
    PROCEDURE_SOURCE,
    DeadlineKind,
    ExtensionRefused,
    ExternalLimit,
    LimitUnit,
    ProcedureBook,
    ProcedureRef,
    TimeLimit,
    acceptance_deadline,
    acknowledge_deadline,
    can_return,
    check_extension_request,
    default_response_level,
    grant_extension,
    handling_deadline,
    meeting_deadline,
    recompute,
    return_window,
)
from services.referral.domain.procedure_documents import load_procedures
from services.referral.domain.supervision import SupervisionPolicy

from .helpers import sh

DISPATCHED = sh(2026, 3, 2, 10, 0)  # Monday 10:00


def test_procedures_per_category(book: ProcedureBook) -> None:
    assert book.for_category("noise").ref == ProcedureRef("135", 1)
    assert book.for_category("petition").ref == ProcedureRef("petition", 1)
    assert book.for_category("anything-new").id == "135"  # the default
    assert book.supervision == SupervisionPolicy()
    with pytest.raises(KeyError):
        book.get("missing")


@pytest.mark.parametrize(
    ("colour", "due"),
    [
        (Colour.red, sh(2026, 3, 7, 10, 30)),  # wall clock, even on a Saturday
        (Colour.orange, sh(2026, 3, 7, 12, 0)),
        (Colour.yellow, sh(2026, 3, 10, 0, 0)),  # 1 working day from Saturday: end of Monday
        (Colour.blue, sh(2026, 3, 10, 0, 0)),
    ],
)
def test_acknowledge_deadline_by_colour(
    book: ProcedureBook, calendar: WorkingCalendar, colour: Colour, due: datetime
) -> None:
    deadline = acknowledge_deadline(book.for_category("noise"), colour, sh(2026, 3, 7, 10, 0), calendar)
    assert deadline.due_at == due
    assert deadline.kind is DeadlineKind.acknowledge
    assert deadline.procedure == ProcedureRef("135", 1)


@pytest.mark.parametrize(
    ("level", "due"),
    [
        (ResponseLevel.immediate, sh(2026, 3, 5, 10, 0)),  # 3 working days
        (ResponseLevel.time_limited, sh(2026, 3, 11, 10, 0)),  # 7 working days
        (ResponseLevel.joint_consultation, sh(2026, 3, 11, 10, 0)),
    ],
)
def test_handling_deadline_by_response_level(
    book: ProcedureBook, calendar: WorkingCalendar, level: ResponseLevel, due: datetime
) -> None:
    deadline = handling_deadline(book.for_category("neighbour"), level, DISPATCHED, calendar)
    assert (deadline.due_at, deadline.clock, deadline.provisional) == (due, ClockKind.working, False)
    assert str(deadline.limit) in {"3 working_days", "7 working_days"}


def test_joint_consultation_meets_within_two_working_days(
    book: ProcedureBook, calendar: WorkingCalendar
) -> None:
    procedure = book.for_category("construction_payment")
    meeting = meeting_deadline(procedure, ResponseLevel.joint_consultation, DISPATCHED, calendar)
    assert meeting is not None and meeting.due_at == sh(2026, 3, 4, 10, 0)
    assert meeting_deadline(procedure, ResponseLevel.time_limited, DISPATCHED, calendar) is None


def test_three_working_days_across_spring_festival(book: ProcedureBook, calendar: WorkingCalendar) -> None:
    deadline = handling_deadline(
        book.for_category("noise"), ResponseLevel.immediate, sh(2026, 2, 12, 15), calendar
    )
    assert deadline.due_at == sh(2026, 2, 24, 15, 0)


def test_petition_uses_calendar_days(book: ProcedureBook, calendar: WorkingCalendar) -> None:
    petition = book.for_category("petition")
    received = sh(2026, 9, 16, 10, 0)
    acceptance = acceptance_deadline(petition, received, calendar)
    assert acceptance is not None
    assert acceptance.due_at == sh(2026, 10, 8, 10, 0)  # day 15 is 1 Oct (holiday) → first working day
    handling = handling_deadline(petition, ResponseLevel.immediate, received, calendar)
    assert handling.due_at == sh(2026, 11, 16, 10, 0)  # 60 days: Sunday 15 Nov rolls to Monday
    assert handling.procedure == ProcedureRef("petition", 1)
    assert acceptance_deadline(book.for_category("noise"), received, calendar) is None


def test_petition_extension_at_most_30_days(book: ProcedureBook, calendar: WorkingCalendar) -> None:
    petition = book.for_category("petition")
    handling = handling_deadline(petition, ResponseLevel.time_limited, sh(2026, 3, 2, 10), calendar)
    check_extension_request(petition, handling, 30, sh(2026, 3, 20))
    with pytest.raises(ExtensionRefused) as caught:
        check_extension_request(petition, handling, 31, sh(2026, 3, 20))
    assert caught.value.code == "exceeds_total"
    # Day 60 is 1 May (Labour Day holiday until 5 May); day 90 is Sunday 31 May.
    assert handling.due_at == sh(2026, 5, 6, 10, 0)
    assert grant_extension(petition, handling, 30, calendar).due_at == sh(2026, 6, 1, 10, 0)


def test_extension_must_be_asked_before_the_deadline(book: ProcedureBook, calendar: WorkingCalendar) -> None:
    procedure = book.for_category("noise")
    deadline = handling_deadline(procedure, ResponseLevel.immediate, DISPATCHED, calendar)  # Thu 10:00
    check_extension_request(procedure, deadline, 5, sh(2026, 3, 5, 9, 59))
    with pytest.raises(ExtensionRefused) as caught:
        check_extension_request(procedure, deadline, 5, sh(2026, 3, 5, 10, 0))
    assert caught.value.code == "after_deadline"
    with pytest.raises(ExtensionRefused) as caught:
        check_extension_request(procedure, deadline, 0, sh(2026, 3, 3))
    assert caught.value.code == "not_positive"


def test_extensions_total_at_most_ten_working_days(book: ProcedureBook, calendar: WorkingCalendar) -> None:
    procedure = book.for_category("noise")
    deadline = handling_deadline(procedure, ResponseLevel.immediate, DISPATCHED, calendar)
    first = grant_extension(procedure, deadline, 6, calendar)
    assert first.extension == 6
    assert first.due_at == sh(2026, 3, 13, 10, 0)  # 3 + 6 = 9 working days from Monday 2 March
    check_extension_request(procedure, first, 4, sh(2026, 3, 10))
    with pytest.raises(ExtensionRefused, match="4 left") as caught:
        check_extension_request(procedure, first, 5, sh(2026, 3, 10))
    assert caught.value.code == "exceeds_total"
    with pytest.raises(ExtensionRefused):
        grant_extension(procedure, first, 5, calendar)


def test_suspension_extends_the_handling_deadline(book: ProcedureBook, calendar: WorkingCalendar) -> None:
    procedure = book.for_category("noise")
    pause = Pause(sh(2026, 3, 3, 10, 0), sh(2026, 3, 5, 10, 0))  # waited on the citizen for 2 working days
    deadline = handling_deadline(procedure, ResponseLevel.immediate, DISPATCHED, calendar, pauses=[pause])
    assert deadline.due_at == sh(2026, 3, 9, 10, 0)  # Thu 5 → +2 working days over the weekend
    assert deadline.pauses == (pause,)


def test_return_window_is_two_working_days_from_dispatch(
    book: ProcedureBook, calendar: WorkingCalendar
) -> None:
    procedure = book.for_category("noise")
    dispatched = sh(2026, 2, 13, 17, 0)  # Friday before Spring Festival
    assert return_window(procedure, dispatched, calendar).due_at == sh(2026, 2, 24, 17, 0)
    assert can_return(procedure, dispatched, sh(2026, 2, 24, 16, 59), calendar)
    assert not can_return(procedure, dispatched, sh(2026, 2, 24, 17, 0), calendar)


def test_provisional_deadline_is_recomputed_under_the_same_procedure(
    book: ProcedureBook, calendar: WorkingCalendar, calendar_2027: WorkingCalendar
) -> None:
    procedure = book.for_category("noise")
    pause = Pause(sh(2026, 12, 29, 9), sh(2026, 12, 29, 10))
    guessed = handling_deadline(
        procedure, ResponseLevel.time_limited, sh(2026, 12, 28, 10), calendar, pauses=[pause]
    )
    assert guessed.provisional and guessed.provisional_years == {2027}
    assert guessed.due_at == sh(2027, 1, 6, 11, 0)

    known = recompute(guessed, calendar_2027)
    assert not known.provisional
    assert known.due_at == sh(2027, 1, 7, 11, 0)  # New Year's Day is a holiday after all
    assert (known.procedure, known.limit, known.pauses) == (guessed.procedure, guessed.limit, guessed.pauses)


LIMIT_TIME = "hotline12345.limitTime"


def test_an_external_limit_earlier_than_ours_is_the_deadline(
    book: ProcedureBook, calendar: WorkingCalendar
) -> None:
    procedure = book.for_category("noise")
    theirs = ExternalLimit(sh(2026, 3, 4, 10, 0), LIMIT_TIME)  # two working days after dispatch
    deadline = handling_deadline(procedure, ResponseLevel.time_limited, DISPATCHED, calendar, external=theirs)
    assert deadline.due_at == theirs.due_at and deadline.source == LIMIT_TIME
    assert deadline.own_due_at == sh(2026, 3, 11, 10, 0) and not deadline.floored

    later = ExternalLimit(sh(2026, 3, 20, 10, 0), LIMIT_TIME)
    ours = handling_deadline(procedure, ResponseLevel.time_limited, DISPATCHED, calendar, external=later)
    assert ours.due_at == sh(2026, 3, 11, 10, 0) and ours.source == PROCEDURE_SOURCE


def test_an_external_limit_before_the_acknowledge_deadline_is_floored_there(
    book: ProcedureBook, calendar: WorkingCalendar
) -> None:
    procedure = book.for_category("noise")
    ack = acknowledge_deadline(procedure, Colour.yellow, DISPATCHED, calendar)
    past = ExternalLimit(sh(2026, 3, 1, 18, 0), LIMIT_TIME)  # already over when it reached us
    deadline = handling_deadline(
        procedure, ResponseLevel.immediate, DISPATCHED, calendar, external=past, floor=ack.due_at
    )
    assert deadline.due_at == ack.due_at == sh(2026, 3, 3, 10, 0)
    assert deadline.source == LIMIT_TIME and deadline.floored


def test_recomputing_keeps_the_external_limit_unless_it_moved(
    book: ProcedureBook, calendar: WorkingCalendar
) -> None:
    procedure = book.for_category("noise")
    theirs = ExternalLimit(sh(2026, 3, 4, 10, 0), LIMIT_TIME)
    first = handling_deadline(procedure, ResponseLevel.time_limited, DISPATCHED, calendar, external=theirs)
    extended = grant_extension(procedure, first, 3, calendar)  # ours moves out; theirs still binds
    assert extended.due_at == theirs.due_at and extended.own_due_at == sh(2026, 3, 16, 10, 0)
    moved = recompute(extended, calendar, external=ExternalLimit(sh(2026, 3, 9, 10, 0), LIMIT_TIME))
    assert moved.due_at == sh(2026, 3, 9, 10, 0) and moved.extension == 3


def test_default_response_level() -> None:
    assert default_response_level(Colour.red, 1) is ResponseLevel.joint_consultation
    assert default_response_level(Colour.blue, 2) is ResponseLevel.time_limited
    assert default_response_level(Colour.orange, 1) is ResponseLevel.immediate


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("30 minutes", TimeLimit(30, LimitUnit.minutes)),
        ("1 working_day", TimeLimit(1, LimitUnit.working_days)),
        (" 7 working_days ", TimeLimit(7, LimitUnit.working_days)),
        ("2 hours", TimeLimit(2, LimitUnit.hours)),
        ("15 calendar_days", TimeLimit(15, LimitUnit.calendar_days)),
    ],
)
def test_time_limit_text(text: str, limit: TimeLimit) -> None:
    assert TimeLimit.parse(text) == limit


@pytest.mark.parametrize("text", ["seven working_days", "7 weeks", "7", "-1 hours", "1.5 hours", "2 hourss"])
def test_time_limit_text_refused(text: str) -> None:
    with pytest.raises(ValueError, match="whole number"):
        TimeLimit.parse(text)


# --- the procedures file ------------------------------------------------------------------------------

GOOD = read_data_file("procedures.yaml")


def _broken(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _broken("    categories: [petition]\n", "    default: true\n"),
            "exactly one procedure must be the default",
        ),
        (_broken("    default: true\n", "    categories: [petition]\n"), "already claimed by"),
        (_broken("    red: 30 minutes\n", ""), "missing key(s): red"),
        (_broken("    orange: 2 hours", "    orange: 2 fortnights"), "acknowledge.orange"),
        (
            _broken("      immediate: 3 working_days", "      immediat: 3 working_days"),
            "missing key(s): immediate; unknown key(s): immediat",
        ),
        (_broken("  reminder_at_percent: 80", "  reminder_at_percent: 120"), "within [0, 1]"),
        (_broken("  red_card_after: 3 working_days", "  red_card_after: 3 hours"), "count working_days"),
        (_broken("      max_total: 30 calendar_days", "      max_total: 30 working_days"), "same unit"),
        (_broken("  - id: petition", '  - id: "135"'), "duplicate procedure id"),
        (_broken("version: 1\n", "version: 2\n"), "unsupported format version"),
    ],
)
def test_malformed_procedures_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DataFileError) as caught:
        load_procedures(text)
    assert message in str(caught.value)
