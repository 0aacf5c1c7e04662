"""Category table: every code has a Chinese label; the YAML must match the enum."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.contracts.vocabulary import Category
from hub.datafile import DataFileError
from services.intake.domain.categories import default_categories, label_zh, load_categories


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


# A made-up code table for the loader's rules: these are not GB/T 39666 codes.
RULES = "gbt39666: {code_length: 6, source: 'a test table, not the standard'}\n"


def _coded(**codes: str) -> str:
    """FULL with the given categories carrying the given (YAML-quoted) codes."""
    entries = FULL
    for category, code in codes.items():
        entries = entries.replace(
            f"{{code: {category}, label_zh: 标签, gbt39666: null}}",
            f"{{code: {category}, label_zh: 标签, gbt39666: {code}}}",
        )
    return entries


def test_minimal_complete_table_loads() -> None:
    assert load_categories(_table(FULL))[Category.noise].gbt39666 is None
    coded = load_categories(RULES + _table(_coded(noise="'051201'", sanitation="'051202'")))
    # Quoted codes stay strings, leading zero included.
    assert (coded[Category.noise].gbt39666, coded[Category.sanitation].gbt39666) == ("051201", "051202")


def test_the_packaged_file_fills_no_code_without_a_source_and_says_what_was_searched() -> None:
    # Loading it applies the rules above (stated length and source, digits, one code per class).
    table = default_categories()
    text = (Path(__file__).resolve().parents[3] / "services/intake/rules/categories.yaml").read_text("utf-8")
    if all(info.gbt39666 is None for info in table.values()):
        # No code could be verified (issue 12): the file records where they were looked for.
        assert "Searched" in text and "GB/T 39666-2020" in text


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        (_table(_coded(noise="'051201'")), "categories[9].gbt39666", "code_length and gbt39666.source"),
        (RULES + _table(_coded(noise="'05120'")), "categories[9].gbt39666", "not a code of 6 digits"),
        (RULES + _table(_coded(noise="'05120A'")), "categories[9].gbt39666", "not a code of 6 digits"),
        (RULES + _table(_coded(noise="'０５１２０１'")), "categories[9].gbt39666", "not a code of 6 digits"),
        (RULES + _table(_coded(noise="051201")), "categories[9].gbt39666", "string code (quoted)"),
        (
            RULES + _table(_coded(noise="'051201'", sanitation="'051201'")),
            "categories[10].gbt39666",
            "already 'noise''s",
        ),
        (
            "gbt39666: {code_length: 6, source: ''}\n" + _table(_coded(noise="'051201'")),
            "categories.gbt39666.source",
            "non-empty string",
        ),
        (
            "gbt39666: {code_length: '6', source: x}\n" + _table(FULL),
            "categories.gbt39666.code_length",
            "positive number of digits",
        ),
        ("gbt39666: {code_length: 6}\n" + _table(FULL), "categories.gbt39666", "missing key(s): source"),
    ],
    ids=[
        "no-stated-length-or-source",
        "too-short",
        "not-digits",
        "full-width-digits",
        "unquoted",
        "one-code-two-categories",
        "empty-source",
        "length-not-a-number",
        "rules-incomplete",
    ],
)
def test_bad_codes_are_refused(text: str, where: str, problem: str) -> None:
    with pytest.raises(DataFileError) as info:
        load_categories(text)
    assert info.value.where == where and problem in info.value.problem


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
    with pytest.raises(DataFileError) as info:
        load_categories(text)
    assert info.value.where == where
