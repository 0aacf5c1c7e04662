"""Events said by intake (受理/研判)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from hub.contracts.aad import event_aad
from hub.contracts.base import Contract
from hub.contracts.vocabulary import Category, Colour, ResponseLevel


class ReporterContact(Contract):
    """How to reach the reporter: ciphertext only; notification decrypts at send time.

    `phone_enc` is encrypted for this event's field (associated data `reporter_phone_aad(case_no)`),
    not a copy of intake's stored value: each place a phone is kept binds its own ciphertext."""

    anonymous: bool = False
    phone_enc: str | None = None
    phone_hash: str | None = None
    sms_capable: bool = False


class CaseRegisteredV1(Contract):
    TYPE = "case.registered.v1"

    case_no: str
    channel: str
    source_ref: str | None = None
    request_type: str
    category: Category
    title: str
    street_code: str | None = None
    grid_code: str | None = None
    people_involved: int = 1
    colour: Colour
    colour_reasons: list[dict[str, Any]] = Field(default_factory=list)
    response_level: ResponseLevel
    duplicate_of: str | None = None
    registered_at: datetime
    trace_id: str | None = None
    reporter: ReporterContact
    # An obligation the channel holds us to (12345's 办理时限) and whose it is: referral keeps the
    # lead's handling deadline no later than it. None: our own procedure alone.
    due_by: datetime | None = None
    due_by_source: str | None = None
    # A pseudonym of the reporter for early warning (repeat reporters): hub.crypto.reporter_key, a
    # keyed hash, never a phone. None for an anonymous report (and from producers before this field).
    reporter_key: str | None = None


REPORTER_PHONE_PATH = "reporter.phone_enc"


def reporter_phone_aad(case_no: str) -> str:
    """The associated data of `case.registered.v1`'s `reporter.phone_enc` (its subject is the case)."""
    return event_aad(CaseRegisteredV1.TYPE, case_no, REPORTER_PHONE_PATH)


class CaseAssessmentChangedV1(Contract):
    """A supervisor overrode the colour, a dispatcher corrected the category (and grading followed), or
    text added to the case (a note, a 12345 urge) raised the colour.

    Fields after `colour_reasons` were added later with defaults, so v1 consumers keep working.
    Colour, level and categories stay `str` here until intake's casework passes the vocabulary's enums.
    """

    TYPE = "case.assessment_changed.v1"

    case_no: str
    colour: str
    response_level: str
    reason: str  # the staff member's reason (phone and ID numbers redacted)
    colour_reasons: list[dict[str, Any]] = Field(default_factory=list)
    change: str = "override"  # override | category_correction | note
    category: str | None = None  # the case's category after the change
    previous_category: str | None = None
    previous_colour: str | None = None
    colour_overridden: bool = False  # the colour is a supervisor's decision, not the rules'
    actor_role: str | None = None
    actor_id: str | None = None
    changed_at: datetime | None = None


class ChannelDuty(Contract):
    """A channel's reply/callback duty for one of its cases (e.g. 12345 still expects its reply)."""

    case_no: str
    channel: str
    source_ref: str | None = None
    # The channel's limit on that case (12345's 办理时限): it binds the case that took the duty over.
    due_by: datetime | None = None
    due_by_source: str | None = None


class CaseMergedV1(Contract):
    """`case_no` is merged into `into` (a dispatcher's decision on a suspected duplicate).

    Referral cancels the merged case's open referrals; the surviving case takes over the merged
    case's channel duty and any duties it had taken over itself (`duties`).
    """

    TYPE = "case.merged.v1"

    case_no: str
    into: str
    channel: str
    source_ref: str | None = None
    duties: list[ChannelDuty] = Field(default_factory=list)  # now held by `into`
    reason: str | None = None
    actor_role: str | None = None
    actor_id: str | None = None
    merged_at: datetime | None = None


class CaseDuplicateUnlinkedV1(Contract):
    """A dispatcher decided a suspected duplicate is a matter of its own."""

    TYPE = "case.duplicate_unlinked.v1"

    case_no: str
    was_duplicate_of: str
    reason: str | None = None
    actor_role: str | None = None
    actor_id: str | None = None
    unlinked_at: datetime | None = None


class KeyPersonFollowUpV1(Contract):
    """A key person or household (重点人员 / 七色户卡) entered the registry, or its colour, grid or
    state changed: referral keeps the visit schedule (a `key_person_visit` task on the worklist, due
    `visit_every_working_days` working days after the last visit). Said by intake in the transaction
    that changed the entry.

    Codes and numbers only: never a name, phone, ID number or address; `key_person_id` is the
    registry's own id. `version` grows with each change, so a late event never undoes a newer one.
    """

    TYPE = "key_person.follow_up.v1"

    key_person_id: str
    version: int
    colour: str  # the scheme's colour code (intake/rules/key_persons.yaml), e.g. red
    colour_name_zh: str
    visit_every_working_days: int
    centre_id: str  # the centre (area code) following the person up: a community, street or district
    grid_code: str | None = None  # the grid whose worker visits (None: the centre's own staff)
    active: bool = True  # False: the entry was closed; no further visits
    changed_at: datetime
