"""Case categories: the codes are hub.contracts.vocabulary.Category; labels and GB/T 39666 codes are in
rules/categories.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hub.contracts.vocabulary import Category
from hub.datafile import DataFileError, expect_mapping, expect_str, expect_version, parse_mapping

from .resources import read_rule_text


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    code: Category
    label_zh: str
    # GB/T 39666-2020 code; None where no verified code exists (dispute categories have none).
    gbt39666: str | None


@dataclass(frozen=True, slots=True)
class _CodeRules:
    """What the file says about the standard's codes: their length in digits and where it was read."""

    length: int | None
    source: str | None


def load_categories(text: str) -> dict[Category, CategoryInfo]:
    """Parse a categories file; it must describe every :class:`Category` exactly once.

    A GB/T 39666 code is a quoted string of ASCII digits (unquoted, YAML would read 051201 as a
    number and drop the leading zero), of the length the file's ``gbt39666.code_length`` states,
    and names one class of the standard, so no two categories share one. A file that fills any
    code must say where the codes were read (``gbt39666.source``) and their length.
    """
    data = parse_mapping(text, "categories")
    expect_mapping(data, "categories", required={"version", "categories"}, optional={"gbt39666"})
    expect_version(data, "categories")
    rules = _code_rules(data.get("gbt39666"))
    entries = data["categories"]
    if not isinstance(entries, list):
        raise DataFileError("categories.categories", "expected a list")
    result: dict[Category, CategoryInfo] = {}
    coded: dict[str, Category] = {}
    for i, entry in enumerate(entries):
        where = f"categories[{i}]"
        node = expect_mapping(entry, where, required={"code", "label_zh", "gbt39666"})
        try:
            code = Category(node["code"])
        except ValueError:
            raise DataFileError(f"{where}.code", f"unknown category {node['code']!r}") from None
        if code in result:
            raise DataFileError(f"{where}.code", f"duplicate category {code.value!r}")
        gbt = _gbt_code(node["gbt39666"], rules, f"{where}.gbt39666")
        if gbt is not None:
            if gbt in coded:
                raise DataFileError(
                    f"{where}.gbt39666",
                    f"code {gbt!r} is already {coded[gbt].value!r}'s: one class, one code",
                )
            coded[gbt] = code
        result[code] = CategoryInfo(code, expect_str(node["label_zh"], f"{where}.label_zh"), gbt)
    missing = set(Category) - result.keys()
    if missing:
        raise DataFileError("categories", f"no entry for: {', '.join(sorted(missing))}")
    return result


def _code_rules(node: object) -> _CodeRules:
    if node is None:
        return _CodeRules(None, None)
    where = "categories.gbt39666"
    fields = expect_mapping(node, where, required={"code_length", "source"})
    length, source = fields["code_length"], fields["source"]
    if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length < 1):
        raise DataFileError(f"{where}.code_length", "expected a positive number of digits or null")
    if source is not None:
        source = expect_str(source, f"{where}.source")
    return _CodeRules(length, source)


def _gbt_code(value: object, rules: _CodeRules, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataFileError(where, "expected a string code (quoted) or null")
    if rules.length is None or rules.source is None:
        raise DataFileError(
            where, "a code needs gbt39666.code_length and gbt39666.source (where the code table was read)"
        )
    if not (value.isascii() and value.isdigit() and len(value) == rules.length):
        raise DataFileError(where, f"{value!r} is not a code of {rules.length} digits")
    return value


@cache
def default_categories() -> dict[Category, CategoryInfo]:
    """The packaged category table, read on first use."""
    return load_categories(read_rule_text("categories.yaml"))


def label_zh(category: Category) -> str:
    return default_categories()[category].label_zh
