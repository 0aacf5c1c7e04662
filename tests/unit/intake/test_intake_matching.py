"""Address normalisation across channels, unit-level addresses, channel boilerplate, free-text redaction."""

from __future__ import annotations

import pytest

from services.intake.domain.duplicates import (
    normalise_address,
    same_address,
    text_similarity,
    unit_of,
)
from services.intake.domain.pii import redact_free_text
from tests.kit.pii_scan import MOBILE, RESIDENT_ID


@pytest.mark.parametrize(
    "spelling",
    [
        "东方花园3栋2单元501室",
        "包头市昆都仑区少先路街道东方花园3号楼2单元501室",
        "昆都仑区阿尔丁大街东方花园3-2-501",
        "阿尔丁大街东方花园三号楼二单元501",
        "内蒙古自治区包头市昆都仑区东方花园3栋2单元501",
        "昆区乌兰道东方花园小区3栋2单元501室",
    ],
)
def test_administrative_prefixes_and_roads_do_not_make_another_address(spelling: str) -> None:
    assert normalise_address(spelling) == "东方花园3栋2单元501"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("青山路十二号楼", "青山路12栋"),  # the road is the only name: kept
        ("阿尔丁大街北侧商贩聚集点", "阿尔丁大街北侧商贩聚集点"),  # a place relative to the road
        ("包头市昆都仑区钢铁大街与青山路交叉口", "钢铁大街与青山路交叉口"),
        ("阿尔丁大街友谊十八街坊5栋", "友谊十八街坊5栋"),  # 街坊 is a neighbourhood, not a street
        ("农贸市场5号", "农贸市场5"),  # 市场 is not a city
        ("幸福小区5栋", "幸福5栋"),  # 小区 after a name is generic
        ("凯旋城小区南门附近", "凯旋城南门"),
        ("小区北门", "小区北门"),  # ... but not a name by itself
    ],
)
def test_normalisation_keeps_what_names_the_place(address: str, expected: str) -> None:
    assert normalise_address(address) == expected
    assert normalise_address(expected) == expected


def test_a_unit_without_a_room_is_the_same_address_as_a_room_in_it() -> None:
    unit, room = normalise_address("华丰园7栋3单元"), normalise_address("民族东路华丰园7栋3单元201室")
    assert unit_of(room) == unit and unit_of(unit) is None
    assert same_address(unit, room) and same_address(room, unit)
    assert not same_address(room, normalise_address("华丰园7栋3单元301"))  # neighbours are not one address
    assert not same_address(unit, normalise_address("华丰园7栋4单元201"))
    assert not same_address("", "")


def test_channel_boilerplate_is_not_evidence_of_the_same_matter() -> None:
    assert (
        text_similarity("市民来电反映：电梯年检过期，诉求维修", "市民来电反映：乱收停车费，诉求退还") == 0.0
    )
    assert text_similarity("报警人称电梯困人", "报警人称邻居吵架") == 0.0
    assert text_similarity("报警人称楼上漏水", "市民来电反映：楼上漏水") == 1.0


def test_free_text_from_staff_is_redacted_of_phones_and_id_numbers() -> None:
    text = redact_free_text("已回电13812341234，+86 13912345678，身份证150203196805123121，座机0471-1234567")
    assert not MOBILE.search(text) and not RESIDENT_ID.search(text)
    assert "138****1234" in text and "150203********3121" in text and "0471-1234567" not in text
    assert redact_free_text("涉及30人，金额100000元") == "涉及30人，金额100000元"
