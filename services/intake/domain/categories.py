"""Case categories: code names live here (typed), labels and GB/T 39666 codes in rules/categories.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from .resources import read_rule_text
from .rulefile import RuleFileError, expect_keys, expect_str, expect_version, parse_yaml_mapping


class Category(StrEnum):
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


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    code: Category
    label_zh: str
    # GB/T 39666-2020 code; None where no verified code exists (dispute categories have none).
    gbt39666: str | None


def load_categories(text: str) -> dict[Category, CategoryInfo]:
    """Parse a categories file; it must describe every :class:`Category` exactly once."""
    data = parse_yaml_mapping(text, "categories")
    expect_keys(data, "categories", required={"version", "categories"})
    expect_version(data, "categories")
    entries = data["categories"]
    if not isinstance(entries, list):
        raise RuleFileError("categories.categories", "expected a list")
    result: dict[Category, CategoryInfo] = {}
    for i, entry in enumerate(entries):
        where = f"categories[{i}]"
        node = expect_keys(entry, where, required={"code", "label_zh", "gbt39666"})
        try:
            code = Category(node["code"])
        except ValueError:
            raise RuleFileError(f"{where}.code", f"unknown category {node['code']!r}") from None
        if code in result:
            raise RuleFileError(f"{where}.code", f"duplicate category {code.value!r}")
        gbt = node["gbt39666"]
        if gbt is not None and not isinstance(gbt, str):
            raise RuleFileError(f"{where}.gbt39666", "expected a string code (quoted) or null")
        result[code] = CategoryInfo(code, expect_str(node["label_zh"], f"{where}.label_zh"), gbt)
    missing = set(Category) - result.keys()
    if missing:
        raise RuleFileError("categories", f"no entry for: {', '.join(sorted(missing))}")
    return result


@cache
def default_categories() -> dict[Category, CategoryInfo]:
    """The packaged category table, read on first use."""
    return load_categories(read_rule_text("categories.yaml"))


def label_zh(category: Category) -> str:
    return default_categories()[category].label_zh
