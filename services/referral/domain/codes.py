"""Code names of the referral domain alone (values are the wire contract of RULES.md).

The vocabulary every service shares (colour, response level, category) is hub.contracts.vocabulary.
"""

from __future__ import annotations

from enum import StrEnum


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
