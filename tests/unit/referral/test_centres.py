"""Tiered centres as data (centres.yaml), routing by the holding centre's level, procedure snapshots."""

from __future__ import annotations

import pytest

from hub.datafile import DataFileError
from services.referral.config import ReferralConfig
from services.referral.data import read_data_file
from services.referral.domain.centres import CentreLevel, area_contains, load_centres, redact_reason
from services.referral.domain.procedure_documents import (
    load_procedures,
    procedure_document,
    procedure_for,
    procedure_from_document,
)
from services.referral.domain.routing import route

DISTRICT, STREET, COMMUNITY = "150203", "150203001000", "150203001001"


@pytest.fixture(scope="module")
def config() -> ReferralConfig:
    return ReferralConfig.load()


def test_the_packaged_tree_has_the_district_its_streets_and_a_community(config: ReferralConfig) -> None:
    tree = config.centres
    district = tree.get(DISTRICT)
    assert district.level is CentreLevel.district and district.parent_id is None
    community = tree.get(COMMUNITY)
    assert community.level is CentreLevel.community
    assert [c.id for c in tree.ancestors(community)] == [STREET, DISTRICT]
    assert tree.root_of(community) == district
    assert tree.subtree_ids(tree.get(STREET)) == {STREET, COMMUNITY}


@pytest.mark.parametrize(
    ("location", "home"),
    [
        (COMMUNITY, COMMUNITY),  # the community's mediation room
        ("150203001002", STREET),  # a community without a room of its own: its street
        (STREET, STREET),
        ("150203003000", "150203003000"),
        (DISTRICT, DISTRICT),
        (None, DISTRICT),  # no location: the district
    ],
)
def test_a_case_belongs_to_the_deepest_centre_of_its_area(
    config: ReferralConfig, location: str | None, home: str
) -> None:
    found = config.centres.home_for(location)
    assert found is not None and found.id == home


def test_a_location_outside_the_district_has_no_home(config: ReferralConfig) -> None:
    assert config.centres.home_for("150204001000") is None
    assert config.centres.home_for("not-a-code") is None


def test_area_containment_follows_the_code_structure() -> None:
    assert area_contains(DISTRICT, COMMUNITY) and area_contains(STREET, COMMUNITY)
    assert not area_contains(COMMUNITY, STREET) and not area_contains("150203002000", COMMUNITY)
    assert area_contains("150200", DISTRICT)


@pytest.mark.parametrize(
    ("centres", "where"),
    [
        ('[{area: "150203001000", name_zh: 街道}]', "centres[0].parent"),  # a street needs a parent
        (
            '[{area: "150203", name_zh: 区}, {area: "150203001001", parent: "150203", name_zh: 社区}]',
            "centres[1].parent",
        ),
        (
            '[{area: "150203", name_zh: 区}, {area: "150204001000", parent: "150203", name_zh: 街道}]',
            "centres[1].parent",
        ),
        ('[{area: "150203", name_zh: 区}, {area: "150203", name_zh: 又一个}]', "centres[1].area"),
        ('[{area: "1502", name_zh: 区}]', "centres[0].area"),
        ('[{area: "150203001000", parent: "150203", name_zh: 街道}]', "centres[0].parent"),  # parent first
    ],
)
def test_a_malformed_tree_names_the_offending_entry(centres: str, where: str) -> None:
    with pytest.raises(DataFileError) as caught:
        load_centres(f"version: 1\ncentres: {centres}\n")
    assert caught.value.where == where


def test_routing_picks_the_holding_level_s_units(config: ReferralConfig) -> None:
    at_community = route(
        "neighbour",
        None,
        None,
        config.registry,
        config.rules,
        community_code=COMMUNITY,
        centre_level="community",
    )
    at_street = route("neighbour", STREET, None, config.registry, config.rules, centre_level="street")
    at_district = route("neighbour", None, DISTRICT, config.registry, config.rules, centre_level="district")
    assert at_community.lead.code == f"community@{COMMUNITY}"  # type: ignore[union-attr]
    assert at_street.lead.code == f"community@{STREET}"  # type: ignore[union-attr]
    assert at_district.lead.code == "justice_office@150203"  # type: ignore[union-attr]
    assert at_district.rule_id == "neighbour_district_centre"  # type: ignore[union-attr]
    # Without a centre level (callers that predate centres) a level-only rule never applies.
    plain = route("neighbour", None, DISTRICT, config.registry, config.rules)
    assert getattr(plain, "rule_id", None) != "neighbour_district_centre"


def test_a_procedure_snapshot_round_trips_and_outlives_a_changed_book(config: ReferralConfig) -> None:
    for procedure in config.book.procedures:
        assert procedure_from_document(procedure_document(procedure)) == procedure
    v1 = config.book.get("petition")
    changed = load_procedures(
        read_data_file("procedures.yaml")
        .replace(
            "    version: 1\n    name_zh: 信访事项办理程序", "    version: 2\n    name_zh: 信访事项办理程序"
        )
        .replace("    handling: 60 calendar_days", "    handling: 90 calendar_days")
    )
    assert changed.get("petition").version == 2
    kept = procedure_for(changed, "petition", 1, procedure_document(v1))
    assert kept.version == 1 and str(kept.handling[next(iter(kept.handling))]) == "60 calendar_days"
    assert procedure_for(changed, "petition", 2, None).version == 2


def test_reasons_are_redacted_of_phone_and_id_numbers() -> None:
    text = redact_reason("联系13812341234，身份证150203199001011234")
    assert "13812341234" not in text and "150203199001011234" not in text
    assert text.startswith("联系138****1234")
