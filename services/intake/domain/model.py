"""Canonical case input (API.md ``POST /api/v1/cases`` body) as pydantic v2 models.

Every check raises a pydantic error located at the offending field, so the caller can build RFC 9457
problem details. Pass ``context={"now": aware_datetime}`` to ``model_validate`` to fix the clock used
for "not in the future" checks; without it the system clock (UTC) is used.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hub.contracts.vocabulary import Category

from .enums import Channel, IdType, RequestType, RiskFlag
from .identifiers import is_mobile, normalise_cn_phone, validate_id_number

FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between a reporting system and the hub
MAX_AMOUNT_YUAN = Decimal("1000000000000")  # 1e12 yuan: anything larger is a typing error


# Unicode's control (Cc: U+0000-001F, U+007F-009F) and surrogate (Cs) characters, found by one regex
# in C rather than a category lookup per character in Python.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _reject_control_chars(value: str, *, multiline: bool) -> str:
    # NUL and other control/surrogate characters break storage (PostgreSQL rejects NUL) and logs.
    if (_CONTROL_MULTILINE if multiline else _CONTROL).search(value):
        raise PydanticCustomError("control_character", "contains a control character")
    return value


def _single_line(value: str) -> str:
    return _reject_control_chars(value, multiline=False)


def _multi_line(value: str) -> str:
    return _reject_control_chars(value, multiline=True)


# Length limits sit inside the type, before the control-character check, so their errors keep
# pydantic's specific types (string_too_short / string_too_long).
Name = Annotated[str, StringConstraints(min_length=1, max_length=50), AfterValidator(_single_line)]
SourceRef = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_single_line)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_single_line)]
Address = Annotated[str, StringConstraints(min_length=1, max_length=300), AfterValidator(_single_line)]
Description = Annotated[str, StringConstraints(min_length=1, max_length=5000), AfterValidator(_multi_line)]
# Text added to a case later (a staff note, a 12345 urge's content): graded with the description.
NoteText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_multi_line)
]


def _phone(value: str) -> str:
    try:
        return normalise_cn_phone(value)
    except ValueError as exc:
        raise PydanticCustomError("phone_invalid", str(exc)) from None


CnPhoneStr = Annotated[str, AfterValidator(_phone)]


def now_from(info: ValidationInfo) -> datetime:
    context = info.context if isinstance(info.context, dict) else {}
    now = context.get("now")
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError("validation context 'now' must be an aware datetime")
    return now


def check_occurred_at(occurred_at: datetime, now: datetime) -> datetime:
    """Refuse an ``occurred_at`` more than FUTURE_TOLERANCE after ``now`` (a pydantic ValueError)."""
    if occurred_at > now + FUTURE_TOLERANCE:
        raise PydanticCustomError("datetime_future", "occurred_at is in the future")
    return occurred_at


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class Reporter(_Input):
    # Field order matters: validators of later fields read earlier ones from ``info.data``.
    anonymous: bool = False
    name: Name | None = None
    phone: CnPhoneStr | None = Field(default=None, validate_default=True)
    id_type: IdType | None = None
    id_number: str | None = Field(default=None, min_length=1, max_length=32, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _default_id_type(cls, data: Any) -> Any:
        # API.md's body has no id_type: a bare id_number is a resident ID, the common case.
        if isinstance(data, dict) and data.get("id_number") is not None and data.get("id_type") is None:
            return {**data, "id_type": IdType.resident_id}
        return data

    @field_validator("phone", mode="after")
    @classmethod
    def _phone_unless_anonymous(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("anonymous") is False:
            raise PydanticCustomError("phone_required", "phone is required unless the reporter is anonymous")
        return value

    @field_validator("id_number", mode="after")
    @classmethod
    def _check_id_number(cls, value: str | None, info: ValidationInfo) -> str | None:
        id_type = info.data.get("id_type")
        if value is None:
            if id_type is not None:
                raise PydanticCustomError("id_number_required", "id_number is required when id_type is given")
            return None
        if id_type is None:  # id_type itself failed validation; its own error says why
            return value
        try:
            return validate_id_number(value, id_type, today=now_from(info).date())
        except ValueError as exc:
            raise PydanticCustomError("id_number_invalid", str(exc)) from None

    @property
    def phone_is_mobile(self) -> bool:
        """True if the reporter can receive SMS (RULES.md: SMS go only to mobiles)."""
        return self.phone is not None and is_mobile(self.phone)


class Location(_Input):
    address: Address
    # Twelve-digit statistical division code of the street or community (统计用区划代码).
    street_code: str | None = Field(default=None, pattern=r"^[1-8]\d{11}$")
    grid_code: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-.]+$")


class DueBy(_Input):
    """An obligation the channel holds the case to (12345's 办理时限 ``limitTime``) and whose it is.

    Referral keeps the lead department's handling deadline no later than ``at``."""

    at: AwareDatetime
    source: str = Field(min_length=3, max_length=64, pattern=r"^[a-z0-9_]+\.[A-Za-z0-9_]+$")


class CaseIn(_Input):
    channel: Channel
    source_ref: SourceRef | None = None
    request_type: RequestType
    category: Category | None = None
    title: Title
    description: Description
    reporter: Reporter
    location: Location
    people_involved: int = Field(default=1, ge=1, le=100_000)
    amount_yuan: Decimal | None = Field(default=None, ge=0, le=MAX_AMOUNT_YUAN, decimal_places=2)
    flags: list[RiskFlag] = Field(default_factory=list)
    occurred_at: AwareDatetime | None = None
    due_by: DueBy | None = None
    # The reporting system marked the case urgent (12345 `urgency = 1`): grading raises the colour.
    urgent: bool = False

    @field_validator("people_involved", mode="before")
    @classmethod
    def _no_bool_people(cls, value: Any) -> Any:
        # bool is an int subclass; ``true`` people is a client bug, not one person.
        if isinstance(value, bool):
            raise PydanticCustomError("int_type", "people_involved must be an integer")
        return value

    @field_validator("flags", mode="after")
    @classmethod
    def _unique_flags(cls, value: list[RiskFlag]) -> list[RiskFlag]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("flags_repeated", "flags must not repeat")
        return value

    @field_validator("occurred_at", mode="after")
    @classmethod
    def _not_in_future(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        return None if value is None else check_occurred_at(value, now_from(info))


def birth_date_of(resident_id: str) -> date:
    """Birth date encoded in a validated resident ID number."""
    return date(int(resident_id[6:10]), int(resident_id[10:12]), int(resident_id[12:14]))
