"""Routing (分流): category × area → lead and assisting department units, or the manual queue.

Two data files feed it:
- the department registry (``departments.yaml``, :func:`load_registry`): the "1+7+N" department
  types, the areas (GB/T 2260 district codes, 12-digit street and community codes), and the units —
  one per type and area, coded ``type@area`` (``police_station@150203001000``);
- the routing rules (``routing.yaml``, :func:`load_routing_rules`): per category, optionally narrowed
  to a street or a district, the lead department type and the assisting types.

:func:`route` takes the most specific matching rule (category + street, then category + district, then
category), then lets the area pick each unit: the community's, the street's, the district's, the
city's, the province's — the nearest one registered. Nothing is routed nowhere: no rule, no lead unit or
an inconsistent area gives a :class:`ManualQueue` with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from hub.contracts.vocabulary import Category
from hub.datafile import (
    DataFileError,
    expect_code,
    expect_list,
    expect_mapping,
    expect_str,
    expect_table,
    expect_version,
    parse_mapping,
)


class UnitSystem(StrEnum):
    """How a unit receives referrals."""

    console = "console"  # staff use the hub's web console
    api = "api"  # the unit's system pulls from our API
    webhook = "webhook"  # we push to the unit's system


class DepartmentGroup(StrEnum):
    """The "7" resident departments of "1+7+N", and the "N" called on demand."""

    resident = "resident"
    on_demand = "on_demand"


class AreaLevel(StrEnum):
    province = "province"
    city = "city"
    district = "district"
    street = "street"
    community = "community"


_DISTRICT_CODE = re.compile(r"^[1-8]\d{5}$")
_STATISTICAL_CODE = re.compile(r"^[1-8]\d{11}$")
_TYPE_CODE = re.compile(r"^[a-z][a-z_]*$")


def area_level(code: str) -> AreaLevel:
    """The level of a GB/T 2260 (6-digit) or statistical (12-digit) area code; ValueError otherwise."""
    if _DISTRICT_CODE.match(code):
        if code.endswith("0000"):
            return AreaLevel.province
        return AreaLevel.city if code.endswith("00") else AreaLevel.district
    if _STATISTICAL_CODE.match(code) and code[6:9] != "000":
        return AreaLevel.street if code.endswith("000") else AreaLevel.community
    raise ValueError(f"{code!r} is not a 6-digit district or a 12-digit street/community code")


def area_chain(
    street_code: str | None, district_code: str | None, community_code: str | None = None
) -> tuple[str, ...]:
    """Area codes from the most local to the province, derived from the codes' structure."""
    chain: list[str] = []
    if community_code:
        chain.append(community_code)
        street_code = street_code or community_code[:9] + "000"
    if street_code:
        chain.append(street_code)
        district_code = district_code or street_code[:6]
    if district_code:
        chain.append(district_code)
        chain.append(district_code[:4] + "00")
        chain.append(district_code[:2] + "0000")
    # A municipal district of a city is e.g. 150203 → 150200 → 150000; drop repeats (150200 → 150200).
    return tuple(dict.fromkeys(chain))


@dataclass(frozen=True)
class DepartmentType:
    code: str
    name_zh: str
    group: DepartmentGroup


@dataclass(frozen=True)
class Area:
    code: str
    name_zh: str

    @property
    def level(self) -> AreaLevel:
        return area_level(self.code)


@dataclass(frozen=True)
class Unit:
    """One department unit serving one area, e.g. the police station of a street."""

    type: str
    area_code: str
    name_zh: str
    contact_role_zh: str
    system: UnitSystem

    @property
    def code(self) -> str:
        return f"{self.type}@{self.area_code}"


@dataclass(frozen=True)
class DepartmentRegistry:
    types: Mapping[str, DepartmentType]
    areas: Mapping[str, Area]
    units: Mapping[str, Unit]  # by unit code

    def unit(self, code: str) -> Unit:
        try:
            return self.units[code]
        except KeyError:
            raise KeyError(f"no unit {code!r}") from None

    def nearest_unit(self, type_code: str, chain: tuple[str, ...]) -> Unit | None:
        """The unit of ``type_code`` registered for the most local area of ``chain``."""
        for area_code in chain:
            unit = self.units.get(f"{type_code}@{area_code}")
            if unit is not None:
                return unit
        return None


@dataclass(frozen=True)
class RoutingRule:
    id: str
    category: str
    lead: str
    assisting: tuple[str, ...] = ()
    street_code: str | None = None
    district_code: str | None = None
    # Only for cases held by a centre of this level (community | street | district), e.g. a
    # neighbour dispute escalated to the district goes to the justice bureau, not a community.
    centre_level: str | None = None

    @property
    def specificity(self) -> int:
        """2 for a street rule, 1 for a district rule, 0 for a category-wide rule (a centre-level
        rule wins over the same area scope without one)."""
        return (2 if self.street_code else 1 if self.district_code else 0) * 2 + (
            1 if self.centre_level else 0
        )


@dataclass(frozen=True)
class RoutingRules:
    rules: tuple[RoutingRule, ...]

    def match(
        self,
        category: str,
        street_code: str | None,
        district_code: str | None,
        centre_level: str | None = None,
    ) -> RoutingRule | None:
        candidates = [
            r
            for r in self.rules
            if r.category == category and (r.centre_level is None or r.centre_level == centre_level)
        ]
        for rule in sorted(candidates, key=lambda r: -r.specificity):
            if rule.street_code is not None and rule.street_code != street_code:
                continue
            if rule.district_code is not None and rule.district_code != district_code:
                continue
            return rule
        return None


@dataclass(frozen=True)
class RoutingDecision:
    lead: Unit
    assisting: tuple[Unit, ...]
    rule_id: str
    # Assisting types the rule asked for but no unit serves here: shown to the dispatcher, not dropped.
    missing_assisting: tuple[str, ...] = ()


class ManualReason(StrEnum):
    no_rule = "no_rule"
    no_lead_unit = "no_lead_unit"
    bad_area = "bad_area"


@dataclass(frozen=True)
class ManualQueue:
    """The case goes to the dispatcher's manual queue (never nowhere), with why."""

    reason: ManualReason
    detail: str
    rule_id: str | None = None


def route(
    category: str,
    street_code: str | None,
    district_code: str | None,
    registry: DepartmentRegistry,
    rules: RoutingRules,
    *,
    community_code: str | None = None,
    centre_level: str | None = None,
) -> RoutingDecision | ManualQueue:
    """Decide the lead and assisting units for a case; see the module docstring."""
    problem = _area_problem(street_code, district_code, community_code)
    if problem:
        return ManualQueue(ManualReason.bad_area, problem)
    if street_code is None and community_code:
        street_code = community_code[:9] + "000"
    if district_code is None and street_code:
        district_code = street_code[:6]
    rule = rules.match(category, street_code, district_code, centre_level)
    if rule is None:
        where = street_code or district_code or "an unknown area"
        return ManualQueue(ManualReason.no_rule, f"no routing rule for category {category!r} in {where}")
    chain = area_chain(street_code, district_code, community_code)
    lead = registry.nearest_unit(rule.lead, chain)
    if lead is None:
        return ManualQueue(
            ManualReason.no_lead_unit,
            f"rule {rule.id!r} wants a {rule.lead} but none is registered for {' > '.join(chain) or 'no area'}",
            rule.id,
        )
    assisting: list[Unit] = []
    missing: list[str] = []
    for type_code in rule.assisting:
        unit = registry.nearest_unit(type_code, chain)
        if unit is None:
            missing.append(type_code)
        elif unit != lead and unit not in assisting:
            assisting.append(unit)
    return RoutingDecision(lead, tuple(assisting), rule.id, tuple(missing))


def _area_problem(
    street_code: str | None, district_code: str | None, community_code: str | None
) -> str | None:
    for code, expected in (
        (community_code, AreaLevel.community),
        (street_code, AreaLevel.street),
        (district_code, AreaLevel.district),
    ):
        if code is None:
            continue
        try:
            level = area_level(code)
        except ValueError as exc:
            return str(exc)
        if level is not expected:
            return f"{code!r} is a {level.value} code, expected a {expected.value} code"
    if community_code and street_code and community_code[:9] != street_code[:9]:
        return f"community {community_code} is not in street {street_code}"
    if street_code and district_code and street_code[:6] != district_code:
        return f"street {street_code} is not in district {district_code}"
    return None


# --- loading ----------------------------------------------------------------------------------------


def load_registry(text: str) -> DepartmentRegistry:
    """Parse ``departments.yaml`` (see that file for the format); errors name the offending path."""
    data = expect_mapping(
        parse_mapping(text, "departments"), "departments", required={"version", "types", "areas", "units"}
    )
    expect_version(data, "departments")

    types: dict[str, DepartmentType] = {}
    type_nodes = expect_table(data["types"], "departments.types")
    for code, node in type_nodes.items():
        where = f"types.{code}"
        if not _TYPE_CODE.match(code):
            raise DataFileError(where, "a department type code is lower_snake_case")
        fields = expect_mapping(node, where, required={"name_zh", "group"})
        types[code] = DepartmentType(
            code,
            expect_str(fields["name_zh"], f"{where}.name_zh"),
            _enum(DepartmentGroup, fields["group"], where),
        )

    areas: dict[str, Area] = {}
    for i, node in enumerate(expect_list(data["areas"], "departments.areas")):
        where = f"areas[{i}]"
        fields = expect_mapping(node, where, required={"code", "name_zh"})
        code = expect_code(fields["code"], f"{where}.code")
        try:
            area_level(code)
        except ValueError as exc:
            raise DataFileError(f"{where}.code", str(exc)) from None
        if code in areas:
            raise DataFileError(f"{where}.code", f"duplicate area {code}")
        areas[code] = Area(code, expect_str(fields["name_zh"], f"{where}.name_zh"))
    for code in areas:
        parent = area_chain(*_as_chain_args(code))[1:2]
        if parent and area_level(code) in (AreaLevel.street, AreaLevel.community) and parent[0] not in areas:
            raise DataFileError("departments.areas", f"{code} has no enclosing area {parent[0]} listed")

    units: dict[str, Unit] = {}
    for i, node in enumerate(expect_list(data["units"], "departments.units")):
        where = f"units[{i}]"
        fields = expect_mapping(
            node, where, required={"type", "area", "name_zh", "contact_role_zh", "system"}
        )
        type_code = expect_code(fields["type"], f"{where}.type")
        if type_code not in types:
            raise DataFileError(f"{where}.type", f"unknown department type {type_code!r}")
        area_code = expect_code(fields["area"], f"{where}.area")
        if area_code not in areas:
            raise DataFileError(f"{where}.area", f"area {area_code} is not listed under areas")
        unit = Unit(
            type_code,
            area_code,
            expect_str(fields["name_zh"], f"{where}.name_zh"),
            expect_str(fields["contact_role_zh"], f"{where}.contact_role_zh"),
            _enum(UnitSystem, fields["system"], f"{where}.system"),
        )
        if unit.code in units:
            raise DataFileError(where, f"duplicate unit {unit.code} (one unit per type and area)")
        units[unit.code] = unit
    return DepartmentRegistry(types, areas, units)


def load_routing_rules(text: str, registry: DepartmentRegistry | None = None) -> RoutingRules:
    """Parse ``routing.yaml``; with ``registry``, department types and areas are checked against it."""
    data = expect_mapping(parse_mapping(text, "routing"), "routing", required={"version", "rules"})
    expect_version(data, "routing")
    rules: list[RoutingRule] = []
    scopes: dict[tuple[str, str | None, str | None, str | None], str] = {}
    for i, node in enumerate(expect_list(data["rules"], "routing.rules")):
        where = f"rules[{i}]"
        fields = expect_mapping(
            node,
            where,
            required={"id", "category", "lead"},
            optional={"assisting", "street", "district", "note", "centre_level"},
        )
        rule_id = expect_code(fields["id"], f"{where}.id")
        category = _enum(Category, fields["category"], f"{where}.category").value
        street = (
            expect_code(fields["street"], f"{where}.street") if fields.get("street") is not None else None
        )
        district = (
            expect_code(fields["district"], f"{where}.district")
            if fields.get("district") is not None
            else None
        )
        if street and district:
            raise DataFileError(
                where, "give a street or a district, not both (a street implies its district)"
            )
        for code, expected, key in (
            (street, AreaLevel.street, "street"),
            (district, AreaLevel.district, "district"),
        ):
            if code is None:
                continue
            try:
                level = area_level(code)
            except ValueError as exc:
                raise DataFileError(f"{where}.{key}", str(exc)) from None
            if level is not expected:
                raise DataFileError(f"{where}.{key}", f"{code} is a {level.value} code")
            if registry is not None and code not in registry.areas:
                raise DataFileError(f"{where}.{key}", f"area {code} is not in the department registry")
        lead = expect_code(fields["lead"], f"{where}.lead")
        assisting = tuple(
            expect_code(t, f"{where}.assisting[{j}]")
            for j, t in enumerate(expect_list(fields.get("assisting", []), f"{where}.assisting"))
        )
        if registry is not None:
            for key, type_code in [
                ("lead", lead),
                *((f"assisting[{j}]", t) for j, t in enumerate(assisting)),
            ]:
                if type_code not in registry.types:
                    raise DataFileError(f"{where}.{key}", f"unknown department type {type_code!r}")
        if lead in assisting or len(set(assisting)) != len(assisting):
            raise DataFileError(f"{where}.assisting", "lists the lead or a type twice")
        if any(r.id == rule_id for r in rules):
            raise DataFileError(f"{where}.id", f"duplicate rule id {rule_id!r}")
        centre_level = (
            expect_code(fields["centre_level"], f"{where}.centre_level")
            if fields.get("centre_level") is not None
            else None
        )
        if centre_level not in (None, "community", "street", "district"):
            raise DataFileError(f"{where}.centre_level", "expected community, street or district")
        scope = (category, street, district, centre_level)
        if scope in scopes:
            raise DataFileError(where, f"same category and area as rule {scopes[scope]!r}: which one wins?")
        scopes[scope] = rule_id
        rules.append(RoutingRule(rule_id, category, lead, assisting, street, district, centre_level))
    return RoutingRules(tuple(rules))


def _as_chain_args(code: str) -> tuple[str | None, str | None, str | None]:
    level = area_level(code)
    if level is AreaLevel.community:
        return None, None, code
    if level is AreaLevel.street:
        return code, None, None
    return None, code, None


_E = TypeVar("_E", bound=StrEnum)


def _enum(enum: type[_E], node: object, where: str) -> _E:
    value = expect_code(node, where)
    try:
        return enum(value)
    except ValueError:
        raise DataFileError(where, f"{value!r} is not one of {', '.join(e.value for e in enum)}") from None
