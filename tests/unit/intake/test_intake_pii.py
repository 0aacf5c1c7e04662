"""Masking of personal data for roles that do not need it."""

from __future__ import annotations

import pytest

from services.intake.domain.pii import mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("+8613812341234", "138****1234"),
        ("138 1234 1234", "138****1234"),
        ("+864711234567", "047****4567"),
        ("0471-1234567", "047****4567"),
        ("+861012345678", "010****5678"),
        ("12345", "***45"),
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张**"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张", "*"),
        ("", ""),
        ("John Smith", "J*** *****"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("11010519491231002X", "110105********002X"),
        ("150203196805123121", "150203********3121"),
        ("E12345678", "E1*****78"),
        ("AB1", "***"),
    ],
)
def test_mask_id_number(number: str, masked: str) -> None:
    assert mask_id_number(number) == masked


def test_masks_never_reveal_the_hidden_middle() -> None:
    assert "1234" not in mask_phone("13812345678")[:7]
    assert "19491231" not in mask_id_number("11010519491231002X")
