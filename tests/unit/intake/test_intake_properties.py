"""Property tests: valid payloads validate and round-trip; one corrupted field is named in the error."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hub.contracts.vocabulary import Category
from services.intake.domain.duplicates import normalise_address, text_similarity
from services.intake.domain.enums import Channel, RequestType, RiskFlag
from services.intake.domain.identifiers import resident_id_check_char
from services.intake.domain.model import CaseIn

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
CONTEXT = {"now": NOW}
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

MOBILE_PREFIXES = [
    "130",
    "133",
    "135",
    "136",
    "138",
    "139",
    "150",
    "151",
    "158",
    "166",
    "177",
    "186",
    "189",
    "199",
]
AREA_CODES_7 = ["0471", "0472", "0476", "0477"]  # Inner Mongolia: 7-digit local numbers
AREA_CODES_8 = ["010", "020", "021"]
PROVINCES = ["11", "15", "31", "44", "65", "81"]


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


mobiles = st.builds(lambda p, rest: p + rest, st.sampled_from(MOBILE_PREFIXES), digits(8))
landlines = st.one_of(
    st.builds(
        lambda a, f, r: f"{a}-{f}{r}", st.sampled_from(AREA_CODES_7), st.sampled_from("2345678"), digits(6)
    ),
    st.builds(
        # 010-80… and 021-80… are unassigned ranges, so 8-digit numbers start 2-7 here.
        lambda a, f, r: f"{a}{f}{r}",
        st.sampled_from(AREA_CODES_8),
        st.sampled_from("234567"),
        digits(7),
    ),
)
phones = st.one_of(
    mobiles,
    mobiles.map(lambda m: "+86 " + m),
    landlines,
    landlines.map(lambda n: "+86" + n[1:].replace("-", "")),
)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 1, 1)))
    first17 = draw(st.sampled_from(PROVINCES)) + draw(digits(4)) + born.strftime("%Y%m%d") + draw(digits(3))
    return first17 + resident_id_check_char(first17)


identity = st.one_of(
    st.just({}),
    resident_ids().map(lambda n: {"id_number": n}),
    resident_ids().map(lambda n: {"id_type": "resident_id", "id_number": n.lower()}),
    st.builds(lambda n: {"id_type": "passport", "id_number": "E" + n}, digits(8)),
    st.builds(lambda n: {"id_type": "hk_macao_permit", "id_number": "H" + n}, digits(8)),
)
_letters = st.characters(codec="utf-8", categories=["Lo", "Lu", "Ll", "Nd", "Po"])
_line_chars = st.one_of(_letters, st.just(" "), st.just("\u3000"))


def line(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_line_chars, min_size=1, max_size=max_size).filter(lambda s: s.strip() != "")


descriptions = st.text(st.one_of(_line_chars, st.just("\n")), min_size=1, max_size=600).filter(
    lambda s: s.strip() != ""
)
named = st.fixed_dictionaries({"phone": phones}, optional={"name": line(50), "anonymous": st.just(False)})
reporters = st.one_of(
    st.builds(lambda r, i: {**r, **i}, named, identity),
    st.fixed_dictionaries({"anonymous": st.just(True)}, optional={"phone": phones}),
)
locations = st.fixed_dictionaries(
    {"address": line(300)},
    optional={
        "street_code": st.builds(lambda f, r: f + r, st.sampled_from("12345678"), digits(11)),
        "grid_code": st.from_regex(r"[A-Za-z0-9_.\-]{1,64}", fullmatch=True),
    },
)
offsets = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])
occurred = st.builds(
    lambda dt, tz: dt.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2025, 11, 30)),
    offsets,
)
amounts = st.decimals(min_value=0, max_value=Decimal("1e12"), places=2, allow_nan=False, allow_infinity=False)

payloads = st.fixed_dictionaries(
    {
        "channel": st.sampled_from([c.value for c in Channel]),
        "request_type": st.sampled_from([r.value for r in RequestType]),
        "title": line(200),
        "description": descriptions,
        "reporter": reporters,
        "location": locations,
    },
    optional={
        "source_ref": line(64),
        "category": st.sampled_from([c.value for c in Category]),
        "people_involved": st.integers(1, 100_000),
        "amount_yuan": st.one_of(amounts.map(str), amounts),
        "flags": st.lists(st.sampled_from([f.value for f in RiskFlag]), unique=True),
        "occurred_at": occurred,
    },
)


@PROPERTY_SETTINGS
@given(payloads)
def test_valid_payloads_validate_and_round_trip_through_json(payload: dict[str, Any]) -> None:
    case = CaseIn.model_validate(payload, context=CONTEXT)
    wire = json.loads(json.dumps(case.model_dump(mode="json")))
    again = CaseIn.model_validate(wire, context=CONTEXT)
    assert again == case
    assert again.model_dump(mode="json") == wire
    assert case.reporter.phone is None or case.reporter.phone.startswith("+86")


# Each corruption: the location its error must be at, and how to break a valid payload.
Corruption = tuple[tuple[str, ...], Callable[[dict[str, Any]], None]]


def _set(*path_and_value: Any) -> Callable[[dict[str, Any]], None]:
    *path, value = path_and_value

    def apply(payload: dict[str, Any]) -> None:
        node = payload
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _drop(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda payload: payload.pop(field)


def _bad_check_digit(payload: dict[str, Any]) -> None:
    first17 = "15020319680512312"
    wrong = "X" if resident_id_check_char(first17) != "X" else "0"
    payload["reporter"].update(id_type="resident_id", id_number=first17 + wrong)


def _named_without_phone(payload: dict[str, Any]) -> None:
    payload["reporter"] = {"name": "张三", "anonymous": False}


CORRUPTIONS: list[Corruption] = [
    (("channel",), _set("channel", "fax")),
    (("channel",), _drop("channel")),
    (("source_ref",), _set("source_ref", "x" * 65)),
    (("request_type",), _set("request_type", "praise")),
    (("category",), _set("category", "weather")),
    (("title",), _set("title", "")),
    (("title",), _set("title", "标" * 201)),
    (("title",), _set("title", "a\x00b")),
    (("description",), _set("description", " \n ")),
    (("description",), _set("description", "x" * 5001)),
    (("reporter",), _set("reporter", "张三 13812341234")),
    (("reporter", "phone"), _set("reporter", "phone", "12345")),
    (("reporter", "phone"), _set("reporter", "phone", "0471-123")),
    (("reporter", "phone"), _named_without_phone),
    (("reporter", "anonymous"), _set("reporter", "anonymous", "maybe")),
    (("reporter", "name"), _set("reporter", "name", "")),
    (("reporter", "id_type"), _set("reporter", "id_type", "driving_licence")),
    (("reporter", "id_number"), _bad_check_digit),
    (("reporter", "nickname"), _set("reporter", "nickname", "老王")),
    (("location",), _drop("location")),
    (("location", "address"), _set("location", "address", "")),
    (("location", "address"), _set("location", "address", "路" * 301)),
    (("location", "street_code"), _set("location", "street_code", "15020300")),
    (("location", "grid_code"), _set("location", "grid_code", "网格 8")),
    (("people_involved",), _set("people_involved", 0)),
    (("people_involved",), _set("people_involved", 100_001)),
    (("people_involved",), _set("people_involved", "many")),
    (("amount_yuan",), _set("amount_yuan", -1)),
    (("amount_yuan",), _set("amount_yuan", "12.345")),
    (("amount_yuan",), _set("amount_yuan", "Infinity")),
    (("flags",), _set("flags", ["criminal_risk", "criminal_risk"])),
    (("flags",), _set("flags", ["meteor_strike"])),
    (("flags",), _set("flags", "violence_threat")),
    (("occurred_at",), _set("occurred_at", "2025-11-30T10:00:00")),
    (("occurred_at",), _set("occurred_at", (NOW + timedelta(minutes=6)).isoformat())),
    (("occurred_at",), _set("occurred_at", "yesterday")),
    (("colour",), _set("colour", "red")),
]


@PROPERTY_SETTINGS
@given(payload=payloads, corruption=st.sampled_from(CORRUPTIONS))
def test_one_corrupted_field_is_named_by_the_error(payload: dict[str, Any], corruption: Corruption) -> None:
    loc, corrupt = corruption
    corrupt(payload)
    try:
        CaseIn.model_validate(payload, context=CONTEXT)
    except ValidationError as exc:
        locs = [tuple(err["loc"]) for err in exc.errors()]
        assert locs, "a ValidationError must carry at least one error"
        assert all(found[: len(loc)] == loc for found in locs), (loc, locs)
    else:
        raise AssertionError(f"corrupting {loc} was accepted: {payload!r}")


_address_chars = st.one_of(
    _line_chars, st.sampled_from(list("栋幢座号楼单元室层-－十二三五０１２３456789，。"))
)


@PROPERTY_SETTINGS
@given(st.text(_address_chars, max_size=40))
def test_address_normalisation_is_idempotent(address: str) -> None:
    once = normalise_address(address)
    assert normalise_address(once) == once


@PROPERTY_SETTINGS
@given(line(80), line(80))
def test_text_similarity_is_a_symmetric_score(a: str, b: str) -> None:
    score = text_similarity(a, b)
    assert 0.0 <= score <= 1.0
    assert score == text_similarity(b, a)
