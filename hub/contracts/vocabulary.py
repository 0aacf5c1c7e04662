"""The vocabulary every service shares (RULES.md): risk colour, response level, dispute category.

StrEnums, so a value is the same string in JSON, in the database and in the rule files; services
import these rather than declaring their own copies.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, cast

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class _Vocabulary(StrEnum):
    """Listed inline in JSON Schema (no shared component), as the published OpenAPI always had them."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> CoreSchema:
        # Without its ref, the JSON Schema is the list itself rather than a $ref to a component.
        return cast(CoreSchema, {k: v for k, v in handler(source).items() if k != "ref"})

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"enum": [member.value for member in cls], "type": "string"}


class Colour(_Vocabulary):
    """Four-colour risk grade (四色预警)."""

    red = "red"
    orange = "orange"
    yellow = "yellow"
    blue = "blue"

    @property
    def severity(self) -> int:
        """Higher is more severe: blue 0 … red 3."""
        return _COLOUR_SEVERITY[self]


class ResponseLevel(_Vocabulary):
    """The three "135" response levels, least to most demanding."""

    immediate = "immediate"  # 即时办结
    time_limited = "time_limited"  # 限时处置
    joint_consultation = "joint_consultation"  # 联席会商

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


class Category(_Vocabulary):
    """Dispute categories; labels and GB/T 39666 codes are intake's rules/categories.yaml."""

    property = "property"
    neighbour = "neighbour"
    family = "family"
    labour = "labour"
    contract = "contract"
    finance = "finance"
    land_compensation = "land_compensation"
    construction_payment = "construction_payment"
    public_facilities_alteration = "public_facilities_alteration"
    noise = "noise"
    sanitation = "sanitation"
    public_security = "public_security"
    petition = "petition"
    law_related = "law_related"
    public_interest_clue = "public_interest_clue"
    other = "other"


_COLOUR_SEVERITY = {Colour.blue: 0, Colour.yellow: 1, Colour.orange: 2, Colour.red: 3}
_LEVEL_RANK = {ResponseLevel.immediate: 0, ResponseLevel.time_limited: 1, ResponseLevel.joint_consultation: 2}
