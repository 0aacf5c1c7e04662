"""The key persons and households registry's colour scheme (重点人员 / 七色户卡 / 三色管理), as data (pure).

A centre chooses its scheme in ``rules/key_persons.yaml``: which colours it uses (the seeds name
七色户卡 — 红橙黄绿青蓝紫, red highest, "red daily, yellow weekly" — and 三色管理: 红色日跟踪、
橙色周回访、黄色月评估), what each means, and how often a person of that colour is visited, in
working days. Colours are listed most attention first; that order is the rank a case's grading
reads (``key_person_colour``) and decides which entry flags a case when several match.

Which groups a person may belong to (空巢老人, 残疾人, …) are data too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hub.datafile import (
    DataFileError,
    expect_code,
    expect_int,
    expect_mapping,
    expect_str,
    expect_table,
    expect_version,
    parse_mapping,
)

from .resources import read_rule_text

# The codes a scheme may use (七色: 红橙黄绿青蓝紫). A scheme uses any of them, in its own order.
COLOUR_CODES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple")
LONGEST_CADENCE = 260  # working days: about a year


@dataclass(frozen=True, slots=True)
class SchemeColour:
    code: str
    name_zh: str
    meaning_zh: str
    visit_every_working_days: int
    rank: int  # 0 = the most attention


@dataclass(frozen=True, slots=True)
class KeyPersonScheme:
    name_zh: str
    colours: tuple[SchemeColour, ...]
    groups: dict[str, str]  # code → 中文名

    def colour(self, code: str) -> SchemeColour | None:
        return next((c for c in self.colours if c.code == code), None)

    def codes(self) -> list[str]:
        return [c.code for c in self.colours]

    def most_attention(self, codes: list[str]) -> str | None:
        """Of these colours, the one needing the most attention (unknown codes rank last)."""
        known = [c for c in (self.colour(code) for code in codes) if c is not None]
        return min(known, key=lambda c: c.rank).code if known else None


def load_key_person_scheme(text: str) -> KeyPersonScheme:
    data = expect_mapping(
        parse_mapping(text, "key_persons"),
        "key_persons",
        required={"version", "name_zh", "colours", "groups"},
    )
    expect_version(data, "key_persons")
    name = expect_str(data["name_zh"], "name_zh")
    colours: list[SchemeColour] = []
    for rank, (code, node) in enumerate(expect_table(data["colours"], "colours").items()):
        where = f"colours.{code}"
        if code not in COLOUR_CODES:
            raise DataFileError(where, f"expected a colour code: {', '.join(COLOUR_CODES)}")
        fields = expect_mapping(node, where, required={"name_zh", "meaning_zh", "visit_every_working_days"})
        every = expect_int(fields["visit_every_working_days"], f"{where}.visit_every_working_days", minimum=1)
        if every > LONGEST_CADENCE:
            raise DataFileError(
                f"{where}.visit_every_working_days", f"at most {LONGEST_CADENCE} working days"
            )
        colours.append(
            SchemeColour(
                code=code,
                name_zh=expect_str(fields["name_zh"], f"{where}.name_zh"),
                meaning_zh=expect_str(fields["meaning_zh"], f"{where}.meaning_zh"),
                visit_every_working_days=every,
                rank=rank,
            )
        )
    groups = {
        expect_code(code, f"groups.{code}"): expect_str(label, f"groups.{code}")
        for code, label in expect_table(data["groups"], "groups").items()
    }
    return KeyPersonScheme(name_zh=name, colours=tuple(colours), groups=groups)


@cache
def default_key_person_scheme() -> KeyPersonScheme:
    """The packaged scheme (rules/key_persons.yaml), read once."""
    return load_key_person_scheme(read_rule_text("key_persons.yaml"))
