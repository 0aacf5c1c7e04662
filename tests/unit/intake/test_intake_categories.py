"""Category table: every code has a Chinese label; the YAML must match the enum."""

from __future__ import annotations

import pytest

from services.intake.domain.categories import Category, default_categories, label_zh, load_categories
from services.intake.domain.rulefile import RuleFileError


def test_every_category_has_a_label() -> None:
    table = default_categories()
    assert set(table) == set(Category)
    assert all(info.label_zh and info.code is code for code, info in table.items())


@pytest.mark.parametrize(
    ("category", "label"),
    [
        (Category.property, "物业纠纷"),
        (Category.construction_payment, "工程款纠纷"),
        (Category.public_facilities_alteration, "私改公共设施"),
        (Category.public_interest_clue, "公益诉讼线索"),
        (Category.other, "其他"),
    ],
)
def test_labels(category: Category, label: str) -> None:
    assert label_zh(category) == label


def _table(entries: str) -> str:
    return "version: 1\ncategories:\n" + entries


FULL = "".join(f"  - {{code: {c.value}, label_zh: 标签, gbt39666: null}}\n" for c in Category)


def test_minimal_complete_table_loads() -> None:
    assert load_categories(_table(FULL))[Category.noise].gbt39666 is None
    coded = FULL.replace(
        "{code: noise, label_zh: 标签, gbt39666: null}", "{code: noise, label_zh: 噪声, gbt39666: '051201'}"
    )
    assert load_categories(_table(coded))[Category.noise].gbt39666 == "051201"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (_table(FULL.replace("code: noise,", "code: nosie,")), "categories[9].code"),
        (_table(FULL + "  - {code: noise, label_zh: 又一个, gbt39666: null}\n"), "categories[16].code"),
        (_table("".join(FULL.splitlines(keepends=True)[:-1])), "categories"),
        (
            _table(
                FULL.replace(
                    "{code: noise, label_zh: 标签, gbt39666: null}",
                    "{code: noise, label_zh: x, gbt39666: 51201}",
                )
            ),
            "categories[9].gbt39666",
        ),
        (
            _table(
                FULL.replace(
                    "{code: noise, label_zh: 标签, gbt39666: null}",
                    "{code: noise, label_zh: '', gbt39666: null}",
                )
            ),
            "categories[9].label_zh",
        ),
    ],
)
def test_bad_tables_are_refused(text: str, where: str) -> None:
    with pytest.raises(RuleFileError) as info:
        load_categories(text)
    assert info.value.where == where
