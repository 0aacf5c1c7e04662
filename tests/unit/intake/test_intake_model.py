"""Case input validation: phones, ID numbers, reporter rules, field errors located at the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from hub.contracts.vocabulary import Category
from services.intake.domain import identifiers
from services.intake.domain.enums import IdType, RiskFlag
from services.intake.domain.identifiers import (
    is_mobile,
    parse_cn_phone,
    resident_id_check_char,
    validate_id_number,
    validate_resident_id,
)
from services.intake.domain.model import CaseIn, Reporter, birth_date_of, check_occurred_at

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)


def errors_of(payload: dict[str, Any], context: dict[str, Any] | None = None) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as info:
        CaseIn.model_validate(payload, context=context or {"now": NOW})
    return [(err["loc"], err["type"]) for err in info.value.errors()]


# --- phones --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164", "mobile"),
    [
        ("13812341234", "+8613812341234", True),
        ("+8613812341234", "+8613812341234", True),
        ("+86 138 1234 1234", "+8613812341234", True),
        ("008613812341234", "+8613812341234", True),
        ("0471-1234567", "+864711234567", False),
        ("(0471)1234567", "+864711234567", False),
        ("+86-471-1234567", "+864711234567", False),
        ("010-12345678", "+861012345678", False),
    ],
)
def test_valid_phones_normalise_to_e164(raw: str, e164: str, mobile: bool) -> None:
    parsed = parse_cn_phone(raw)
    assert (parsed.e164, parsed.is_mobile) == (e164, mobile)
    assert is_mobile(e164) is mobile


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("12345", "not a valid"),  # the hotline itself
        ("1234567", "not a valid"),  # landline without area code
        ("138123412345", "not a valid"),  # one digit too many
        ("400-123-4567", "only mobile or landline"),
        ("+85291234567", "only mainland China"),
        ("not a phone", "not a phone number"),
    ],
)
def test_invalid_phones(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_cn_phone(raw)


def test_phones_parsed_earlier_are_remembered_within_a_bound() -> None:
    # A back-fill parses 10^6 distinct phones in one worker: what it remembers must not grow with them.
    for n in range(identifiers._PARSED_KEPT + 100):
        phone = f"1381{n:07d}"
        assert parse_cn_phone(phone) == parse_cn_phone(f"+86{phone}")
        assert len(identifiers._parsed) <= identifiers._PARSED_KEPT
    assert is_mobile("+8613812341234") and not is_mobile("+864711234567")


def test_reporter_phone_is_normalised_and_knows_if_it_takes_sms() -> None:
    mobile = Reporter.model_validate({"phone": "138 1234 1234"})
    landline = Reporter.model_validate({"phone": "0471-1234567"})
    assert (mobile.phone, mobile.phone_is_mobile) == ("+8613812341234", True)
    assert (landline.phone, landline.phone_is_mobile) == ("+864711234567", False)
    assert Reporter.model_validate({"anonymous": True}).phone_is_mobile is False


# --- identity numbers ----------------------------------------------------------------------------


def test_resident_id_check_digit_from_the_standard_example() -> None:
    # GB 11643-1999's worked example: 11010519491231002X
    assert resident_id_check_char("11010519491231002") == "X"
    assert validate_resident_id("11010519491231002x") == "11010519491231002X"
    assert birth_date_of("11010519491231002X") == date(1949, 12, 31)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("110105194912310021", "check digit"),
        ("11010519491231002", "18 characters"),
        ("1101051949123100XX", "18 characters"),
        ("110105194902310025", "birth date"),  # 31 Feb (check digit is right: 5)
        ("991051194912310021", "region code"),
    ],
)
def test_invalid_resident_ids(raw: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        validate_resident_id(raw)


def test_impossible_birth_date_even_with_correct_check_digit() -> None:
    first17 = "11010519490231002"
    with pytest.raises(ValueError, match="birth date"):
        validate_resident_id(first17 + resident_id_check_char(first17))
    future17 = "11010520300101002"
    future = future17 + resident_id_check_char(future17)
    validate_resident_id(future)  # no clock given: only the calendar is checked
    with pytest.raises(ValueError, match="birth date"):
        validate_resident_id(future, today=date(2025, 1, 1))


def test_other_documents_are_accepted_as_typed() -> None:
    assert validate_id_number(" e12345678 ", IdType.passport) == "E12345678"
    assert validate_id_number("H12345678", IdType.hk_macao_permit) == "H12345678"
    assert validate_id_number("12345678", IdType.taiwan_permit) == "12345678"
    with pytest.raises(ValueError, match="document number"):
        validate_id_number("E1 2345678", IdType.passport)


def test_id_number_without_type_is_a_resident_id(make_payload) -> None:
    case = CaseIn.model_validate(make_payload(), context={"now": NOW})
    assert case.reporter.id_type is IdType.resident_id
    assert errors_of(make_payload(reporter={"phone": "13904721234", "id_number": "150203196805123120"})) == [
        (("reporter", "id_number"), "id_number_invalid")
    ]


def test_passport_number_skips_the_resident_id_check(make_payload) -> None:
    payload = make_payload(reporter={"phone": "13904721234", "id_type": "passport", "id_number": "E12345678"})
    assert CaseIn.model_validate(payload, context={"now": NOW}).reporter.id_number == "E12345678"


def test_id_type_without_number_is_refused(make_payload) -> None:
    payload = make_payload(reporter={"phone": "13904721234", "id_type": "passport"})
    assert errors_of(payload) == [(("reporter", "id_number"), "id_number_required")]


# --- reporter ------------------------------------------------------------------------------------


def test_named_reporter_needs_a_phone(make_payload) -> None:
    assert errors_of(make_payload(reporter={"name": "王建国"})) == [(("reporter", "phone"), "phone_required")]
    assert errors_of(make_payload(reporter={"anonymous": False, "phone": None})) == [
        (("reporter", "phone"), "phone_required")
    ]


def test_anonymous_reporter_needs_nothing(make_payload) -> None:
    case = CaseIn.model_validate(make_payload(reporter={"anonymous": True}), context={"now": NOW})
    assert case.reporter.anonymous and case.reporter.phone is None and case.reporter.name is None


def test_invalid_phone_is_located_at_reporter_phone(make_payload) -> None:
    assert errors_of(make_payload(reporter={"phone": "0471-123"})) == [
        (("reporter", "phone"), "phone_invalid")
    ]


# --- the case body -------------------------------------------------------------------------------


def test_valid_payload_is_normalised(make_payload) -> None:
    case = CaseIn.model_validate(
        make_payload(
            title="  标题  ",
            amount_yuan="1234.50",
            flags=["violence_threat", "vulnerable_person"],
            category="noise",
            occurred_at="2025-11-30T22:00:00+08:00",
        ),
        context={"now": NOW},
    )
    assert case.title == "标题"
    assert case.amount_yuan == Decimal("1234.50")
    assert case.flags == [RiskFlag.violence_threat, RiskFlag.vulnerable_person]
    assert case.category is Category.noise
    assert case.people_involved == 2
    assert case.reporter.phone == "+8613904721234"


def test_defaults(make_payload) -> None:
    payload = make_payload()
    del payload["people_involved"]
    case = CaseIn.model_validate(payload, context={"now": NOW})
    assert (case.people_involved, case.flags, case.category, case.amount_yuan) == (1, [], None, None)


@pytest.mark.parametrize(
    ("overrides", "loc", "error_type"),
    [
        ({"channel": "fax"}, ("channel",), "enum"),
        ({"request_type": "praise"}, ("request_type",), "enum"),
        ({"category": "weather"}, ("category",), "enum"),
        ({"title": "   "}, ("title",), "string_too_short"),
        ({"title": "长" * 201}, ("title",), "string_too_long"),
        ({"title": "a\x00b"}, ("title",), "control_character"),
        ({"description": ""}, ("description",), "string_too_short"),
        ({"description": "x" * 5001}, ("description",), "string_too_long"),
        ({"source_ref": "x" * 65}, ("source_ref",), "string_too_long"),
        ({"people_involved": 0}, ("people_involved",), "greater_than_equal"),
        ({"people_involved": 100_001}, ("people_involved",), "less_than_equal"),
        ({"people_involved": True}, ("people_involved",), "int_type"),
        ({"amount_yuan": -1}, ("amount_yuan",), "greater_than_equal"),
        ({"amount_yuan": "1.001"}, ("amount_yuan",), "decimal_max_places"),
        ({"amount_yuan": "NaN"}, ("amount_yuan",), "finite_number"),
        ({"flags": ["violence_threat", "violence_threat"]}, ("flags",), "flags_repeated"),
        ({"flags": ["meteor"]}, ("flags", 0), "enum"),
        ({"occurred_at": "2025-11-30T22:00:00"}, ("occurred_at",), "timezone_aware"),
        ({"location": {"address": ""}}, ("location", "address"), "string_too_short"),
        (
            {"location": {"address": "a", "street_code": "15020300500"}},
            ("location", "street_code"),
            "string_pattern_mismatch",
        ),
        ({"colour": "red"}, ("colour",), "extra_forbidden"),
        ({"reporter": {"phone": "13904721234", "email": "a@b"}}, ("reporter", "email"), "extra_forbidden"),
    ],
)
def test_each_error_names_its_field(make_payload, overrides: dict, loc: tuple, error_type: str) -> None:
    assert errors_of(make_payload(**overrides)) == [(loc, error_type)]


@pytest.mark.parametrize(
    ("char", "in_title", "in_description"),
    [
        ("\x00", False, False),
        ("\t", False, True),
        ("\n", False, True),
        ("\r", False, True),
        ("\x0b", False, False),
        ("\x1f", False, False),
        ("\x7f", False, False),
        ("\x85", False, False),  # NEL: a C1 control, not a line break we keep
        ("\x9f", False, False),
        ("\xa0", True, True),  # no-break space: a character, not a control
        ("\u3000", True, True),
        ("\u200b", True, True),  # zero-width space is format (Cf), not control
    ],
)
def test_control_characters_are_refused_where_they_break_storage(
    make_payload, char: str, in_title: bool, in_description: bool
) -> None:
    """Unicode's control (Cc) and surrogate (Cs) characters are refused; a description keeps its tabs
    and line breaks; other characters pass."""
    for field, text, passes in (
        ("title", f"a{char}b", in_title),
        ("description", f"楼上漏水{char}多次", in_description),
    ):
        payload = make_payload(**{field: text})
        if passes:
            assert getattr(CaseIn.model_validate(payload, context={"now": NOW}), field) == text
        else:
            assert errors_of(payload) == [((field,), "control_character")]


def test_missing_required_fields_are_each_named(make_payload) -> None:
    payload = make_payload()
    for field in ("channel", "request_type", "title", "description", "reporter", "location"):
        del payload[field]
    assert sorted(loc for loc, kind in errors_of(payload) if kind == "missing") == [
        ("channel",),
        ("description",),
        ("location",),
        ("reporter",),
        ("request_type",),
        ("title",),
    ]


def test_occurred_at_tolerates_five_minutes_of_clock_skew(make_payload) -> None:
    ok = make_payload(occurred_at=(NOW + timedelta(minutes=5)).isoformat())
    assert CaseIn.model_validate(ok, context={"now": NOW}).occurred_at == NOW + timedelta(minutes=5)
    late = make_payload(occurred_at=(NOW + timedelta(minutes=5, seconds=1)).isoformat())
    assert errors_of(late) == [(("occurred_at",), "datetime_future")]


def test_occurred_at_without_context_uses_the_system_clock(make_payload) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(ValidationError) as info:
        CaseIn.model_validate(make_payload(occurred_at=future.isoformat()))
    assert info.value.errors()[0]["loc"] == ("occurred_at",)


def test_check_occurred_at_function() -> None:
    assert check_occurred_at(NOW, NOW) == NOW
    with pytest.raises(ValueError, match="future"):
        check_occurred_at(NOW + timedelta(hours=1), NOW)


def test_cases_are_immutable(make_payload) -> None:
    case = CaseIn.model_validate(make_payload(), context={"now": NOW})
    with pytest.raises(ValidationError):
        case.title = "changed"  # type: ignore[misc]
