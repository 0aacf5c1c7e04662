"""The shared vocabulary: enums in the contracts, the same strings on the wire as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from hub.contracts.http.intake import OverrideIn
from hub.contracts.intake import CaseRegisteredV1
from hub.contracts.vocabulary import Category, Colour, ResponseLevel

EVENT = {
    "case_no": "ZZ-20261122-000001",
    "channel": "window",
    "request_type": "help",
    "category": "labour",
    "title": "欠薪",
    "colour": "orange",
    "response_level": "time_limited",
    "registered_at": "2026-11-22T01:00:00Z",
    "reporter": {"anonymous": True},
}


def test_an_event_reads_and_writes_the_plain_strings() -> None:
    event = CaseRegisteredV1.model_validate(EVENT)
    assert event.colour is Colour.orange and event.category is Category.labour
    assert event.response_level is ResponseLevel.time_limited
    wire = json.loads(event.model_dump_json())
    assert {k: wire[k] for k in ("colour", "category", "response_level")} == {
        "colour": "orange",
        "category": "labour",
        "response_level": "time_limited",
    }
    assert event.registered_at == datetime(2026, 11, 22, 1, tzinfo=UTC)


def test_an_unknown_colour_is_refused_with_the_allowed_values() -> None:
    with pytest.raises(ValidationError, match="'red', 'orange', 'yellow' or 'blue'"):
        OverrideIn.model_validate({"colour": "purple", "reason": "复核"})


def test_order_of_severity_and_of_response() -> None:
    assert sorted(Colour, key=lambda c: c.severity) == [Colour.blue, Colour.yellow, Colour.orange, Colour.red]
    assert max(ResponseLevel, key=lambda level: level.rank) is ResponseLevel.joint_consultation


def test_the_published_schema_lists_the_codes_inline() -> None:
    schema = OverrideIn.model_json_schema()
    assert "$defs" not in schema
    assert schema["properties"]["colour"] == {
        "enum": ["red", "orange", "yellow", "blue"],
        "title": "Colour",
        "type": "string",
    }
