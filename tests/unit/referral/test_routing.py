"""Routing: the RULES.md default table, precedence, unit choice by area, the manual queue, loaders."""

from __future__ import annotations

import pytest

from hub.datafile import DataFileError
from services.referral.data import read_data_file
from services.referral.domain.routing import (
    AreaLevel,
    DepartmentGroup,
    DepartmentRegistry,
    ManualQueue,
    ManualReason,
    RoutingDecision,
    RoutingRules,
    UnitSystem,
    area_chain,
    area_level,
    load_registry,
    load_routing_rules,
    route,
)

BAIYUNLU, LINYINLU, ZHAOTAN = "150203001000", "150203002000", "150203003000"
KUNDULUN = "150203"
SECOND_COMMUNITY = "150203001001"


def _decide(
    category: str, street: str | None, registry: DepartmentRegistry, rules: RoutingRules
) -> RoutingDecision:
    decision = route(category, street, None, registry, rules)
    assert isinstance(decision, RoutingDecision), decision
    return decision


# The RULES.md table, routed in 林荫路街道 (no street-specific rule there).
DEFAULT_ROWS = [
    ("public_facilities_alteration", "housing_bureau", ["police_station", "justice_office"]),
    ("sanitation", "community", ["property_management", "fire_brigade"]),
    ("noise", "urban_management", ["police_station"]),
    ("neighbour", "community", ["justice_office", "police_station"]),
    ("contract", "court", ["arbitration"]),
    ("finance", "court", ["arbitration"]),
    ("land_compensation", "expropriation_office", ["petitions_bureau", "justice_office"]),
    (
        "construction_payment",
        "labour_bureau",
        ["housing_bureau", "police_station", "court", "justice_office"],
    ),
    ("family", "women_federation", ["justice_office", "court"]),
    ("public_security", "police_station", []),
    ("public_interest_clue", "procuratorate", []),
]


@pytest.mark.parametrize(("category", "lead", "assisting"), DEFAULT_ROWS, ids=[r[0] for r in DEFAULT_ROWS])
def test_default_rows(
    registry: DepartmentRegistry, rules: RoutingRules, category: str, lead: str, assisting: list[str]
) -> None:
    decision = _decide(category, LINYINLU, registry, rules)
    assert decision.rule_id == category
    assert decision.lead.type == lead
    assert [u.type for u in decision.assisting] == assisting
    assert decision.missing_assisting == ()


def test_the_area_picks_the_unit(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    decision = _decide("construction_payment", LINYINLU, registry, rules)
    codes = [decision.lead.code, *(u.code for u in decision.assisting)]
    assert codes == [
        "labour_bureau@150203",
        "housing_bureau@150203",
        "police_station@150203002000",  # the street's own police station
        "court@150203",
        "justice_office@150203002000",
    ]
    assert decision.lead.name_zh == "昆都仑区人力资源和社会保障局"
    # 沼潭街道 has no justice office in the registry: the district's justice bureau steps in.
    zhaotan = _decide("family", ZHAOTAN, registry, rules)
    assert [u.code for u in zhaotan.assisting] == ["justice_office@150203", "court@150203"]
    # One arbitration commission serves the city.
    assert _decide("contract", ZHAOTAN, registry, rules).assisting[0].code == "arbitration@150200"


def test_street_rule_beats_the_category_rule(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    decision = _decide("neighbour", BAIYUNLU, registry, rules)
    assert decision.rule_id == "neighbour_baiyunlu"
    assert [u.type for u in decision.assisting] == ["justice_office", "police_station", "property_management"]
    assert _decide("neighbour", LINYINLU, registry, rules).rule_id == "neighbour"


def test_district_rule_beats_the_category_rule(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    assert _decide("labour", LINYINLU, registry, rules).rule_id == "labour_kundulun"
    by_district = route("labour", None, KUNDULUN, registry, rules)
    assert isinstance(by_district, RoutingDecision) and by_district.rule_id == "labour_kundulun"
    elsewhere = rules.match("labour", None, "150204")
    assert elsewhere is not None and elsewhere.id == "labour"


def test_precedence_does_not_depend_on_file_order(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    reversed_rules = RoutingRules(tuple(reversed(rules.rules)))
    assert _decide("neighbour", BAIYUNLU, registry, reversed_rules).rule_id == "neighbour_baiyunlu"
    assert _decide("neighbour", LINYINLU, registry, reversed_rules).rule_id == "neighbour"
    assert _decide("labour", LINYINLU, registry, reversed_rules).rule_id == "labour_kundulun"


def test_community_code_picks_the_community(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    decision = route("sanitation", BAIYUNLU, KUNDULUN, registry, rules, community_code=SECOND_COMMUNITY)
    assert isinstance(decision, RoutingDecision)
    assert decision.lead.code == "community@150203001001"
    assert decision.lead.name_zh == "白云路街道第二社区居民委员会"
    # Without the community, the street's community office takes it.
    assert _decide("sanitation", BAIYUNLU, registry, rules).lead.code == "community@150203001000"


def test_district_only_case_gets_district_units(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    decision = route("public_security", None, KUNDULUN, registry, rules)
    assert isinstance(decision, RoutingDecision)
    assert decision.lead.code == "police_station@150203"
    assert decision.lead.system is UnitSystem.webhook


@pytest.mark.parametrize("category", ["law_related", "other", "no_such_category"])
def test_no_rule_goes_to_the_manual_queue(
    registry: DepartmentRegistry, rules: RoutingRules, category: str
) -> None:
    decision = route(category, BAIYUNLU, None, registry, rules)
    assert isinstance(decision, ManualQueue)
    assert decision.reason is ManualReason.no_rule and category in decision.detail


def test_no_lead_unit_goes_to_the_manual_queue(registry: DepartmentRegistry, rules: RoutingRules) -> None:
    decision = route("sanitation", ZHAOTAN, None, registry, rules)  # no community office registered there
    assert decision == ManualQueue(
        ManualReason.no_lead_unit,
        "rule 'sanitation' wants a community but none is registered for 150203003000 > 150203 > 150200 > 150000",
        "sanitation",
    )
    nowhere = route("noise", None, None, registry, rules)
    assert isinstance(nowhere, ManualQueue) and nowhere.reason is ManualReason.no_lead_unit


@pytest.mark.parametrize(
    ("street", "district", "community", "detail"),
    [
        (BAIYUNLU, "150204", None, "is not in district 150204"),
        ("15020300100", None, None, "is not a 6-digit district"),
        (KUNDULUN, None, None, "is a district code, expected a street code"),
        (LINYINLU, None, SECOND_COMMUNITY, "is not in street"),
    ],
)
def test_inconsistent_areas_go_to_the_manual_queue(
    registry: DepartmentRegistry,
    rules: RoutingRules,
    street: str | None,
    district: str | None,
    community: str | None,
    detail: str,
) -> None:
    decision = route("noise", street, district, registry, rules, community_code=community)
    assert isinstance(decision, ManualQueue) and decision.reason is ManualReason.bad_area
    assert detail in decision.detail


def test_missing_assisting_units_are_reported_not_dropped(
    registry: DepartmentRegistry, rules: RoutingRules
) -> None:
    without_fire = DepartmentRegistry(
        registry.types, registry.areas, {c: u for c, u in registry.units.items() if u.type != "fire_brigade"}
    )
    decision = _decide("sanitation", BAIYUNLU, without_fire, rules)
    assert [u.type for u in decision.assisting] == ["property_management"]
    assert decision.missing_assisting == ("fire_brigade",)


def test_area_codes() -> None:
    assert area_chain(BAIYUNLU, None) == (BAIYUNLU, KUNDULUN, "150200", "150000")
    assert area_chain(None, None, SECOND_COMMUNITY)[:2] == (SECOND_COMMUNITY, BAIYUNLU)
    assert area_chain(None, None) == ()
    assert [area_level(c) for c in ("150000", "150200", KUNDULUN, BAIYUNLU, SECOND_COMMUNITY)] == list(
        AreaLevel
    )


def test_registry_contents(registry: DepartmentRegistry) -> None:
    resident = {t.code for t in registry.types.values() if t.group is DepartmentGroup.resident}
    assert resident == {
        "court",
        "procuratorate",
        "police_station",
        "justice_office",
        "petitions_bureau",
        "housing_bureau",
        "labour_bureau",
    }  # the "7" of "1+7+N"
    station = registry.unit("police_station@150203001000")
    assert (station.name_zh, station.system) == ("包头市公安局昆都仑区分局白云路派出所", UnitSystem.webhook)
    with pytest.raises(KeyError):
        registry.unit("police_station@999999")


# --- loaders --------------------------------------------------------------------------------------------

DEPARTMENTS = read_data_file("departments.yaml")
ROUTING = read_data_file("routing.yaml")


def _edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _edit(DEPARTMENTS, "{type: court, area:", "{type: courts, area:"),
            "unknown department type 'courts'",
        ),
        (
            _edit(DEPARTMENTS, 'area: "150200", name_zh: 包头仲裁', 'area: "150201", name_zh: 包头仲裁'),
            "area 150201 is not listed",
        ),
        (_edit(DEPARTMENTS, "system: api}", "system: fax}"), "'fax' is not one of console, api, webhook"),
        (
            _edit(DEPARTMENTS, "{type: procuratorate, area:", "{type: court, area:"),
            "duplicate unit court@150203",
        ),
        (_edit(DEPARTMENTS, '  - {code: "150203", name_zh: 昆都仑区}\n', ""), "has no enclosing area 150203"),
        (
            _edit(DEPARTMENTS, "contact_role_zh: 防火监督员", "contact: 防火监督员"),
            "missing key(s): contact_role_zh",
        ),
        (_edit(DEPARTMENTS, "  court: {name_zh", "  Court: {name_zh"), "lower_snake_case"),
    ],
)
def test_malformed_registry(text: str, message: str) -> None:
    with pytest.raises(DataFileError) as caught:
        load_registry(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_edit(ROUTING, "category: noise", "category: nosie"), "'nosie' is not one of"),
        (
            _edit(ROUTING, "lead: urban_management", "lead: city_guard"),
            "unknown department type 'city_guard'",
        ),
        (
            _edit(ROUTING, "assisting: [police_station]", "assisting: [police_station, police_station]"),
            "lists the lead or a type twice",
        ),
        (
            _edit(
                ROUTING, '    district: "150203"\n', '    street: "150203001000"\n    district: "150203"\n'
            ),
            "not both",
        ),
        (
            _edit(
                ROUTING, "  - id: petition\n    category: petition", "  - id: petition\n    category: noise"
            ),
            "same category and area as rule 'noise'",
        ),
        (_edit(ROUTING, "  - id: petition\n", "  - id: noise\n"), "duplicate rule id"),
        (
            _edit(ROUTING, 'street: "150203001000"', 'street: "150203009000"'),
            "not in the department registry",
        ),
        (_edit(ROUTING, 'district: "150203"', 'district: "150203001000"'), "is a street code"),
        (_edit(ROUTING, "    note: 噪声扰民", "    notes: 噪声扰民"), "unknown key(s): notes"),
    ],
)
def test_malformed_routing_rules(registry: DepartmentRegistry, text: str, message: str) -> None:
    with pytest.raises(DataFileError) as caught:
        load_routing_rules(text, registry)
    assert message in str(caught.value)
