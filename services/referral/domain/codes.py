"""Code names shared by the referral domain modules (values are the wire contract of RULES.md).

Services never import each other's code, so these mirror intake's enums by value, not by import.
"""

from __future__ import annotations

from enum import StrEnum


class Colour(StrEnum):
    """Four-colour risk grade (四色预警)."""

    red = "red"
    orange = "orange"
    yellow = "yellow"
    blue = "blue"


class ResponseLevel(StrEnum):
    """The three "135" response levels, least to most demanding."""

    immediate = "immediate"  # 即时办结
    time_limited = "time_limited"  # 限时处置
    joint_consultation = "joint_consultation"  # 联席会商

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {ResponseLevel.immediate: 0, ResponseLevel.time_limited: 1, ResponseLevel.joint_consultation: 2}


class Category(StrEnum):
    """Dispute categories of RULES.md (intake may also send GB/T 39666 codes, matched as strings)."""

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


class Satisfaction(StrEnum):
    """Callback rating (回访满意度)."""

    satisfied = "satisfied"  # 满意
    basically_satisfied = "basically_satisfied"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意


class ReturnReason(StrEnum):
    """Coded reasons a department may give when it returns (退回) a referral."""

    not_our_duty = "not_our_duty"
    wrong_area = "wrong_area"
    insufficient_info = "insufficient_info"
    duplicate = "duplicate"
    other = "other"  # requires free text
