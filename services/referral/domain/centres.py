"""Tiered centres (分级调处: "小事不出社区、大事不出街道") as data: one tree per district.

The district centre (综治中心, a GB/T 2260 six-digit district code), each street's centre and, below
them, the communities' mediation rooms (twelve-digit statistical codes) are centres in one tree,
loaded from ``centres.yaml`` by :func:`load_centres`. A centre's id is its area code: one centre per
area. A case belongs to one centre at a time (its *home* is the deepest centre whose area holds the
case's location); the centre dispatches within its own area, escalates to its parent (上报) or
delegates down (下派) to a centre whose area holds the case's location.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hub.datafile import DataFileError, expect_list, expect_mapping, expect_str, expect_version, parse_mapping

from .routing import AreaLevel, area_level


class CentreLevel(StrEnum):
    district = "district"  # 区县综治中心
    street = "street"  # 街道（乡镇）综治中心
    community = "community"  # 社区（村）人民调解室

    @property
    def rank(self) -> int:
        """0 for a community, 2 for the district: higher is further up the tree."""
        return _RANK[self]


_RANK = {CentreLevel.community: 0, CentreLevel.street: 1, CentreLevel.district: 2}
_AREA_LEVEL = {
    AreaLevel.district: CentreLevel.district,
    AreaLevel.street: CentreLevel.street,
    AreaLevel.community: CentreLevel.community,
}


def area_contains(outer: str, inner: str) -> bool:
    """True when area ``inner`` lies in area ``outer`` (or is it), by the codes' structure."""
    level = area_level(outer)
    if level is AreaLevel.community:
        return inner == outer
    if level is AreaLevel.street:
        return len(inner) == 12 and inner[:9] == outer[:9]
    if level is AreaLevel.district:
        return inner[:6] == outer
    if level is AreaLevel.city:
        return inner[:4] == outer[:4]
    return inner[:2] == outer[:2]


@dataclass(frozen=True)
class Centre:
    id: str  # = its area code
    level: CentreLevel
    name_zh: str
    parent_id: str | None

    @property
    def area(self) -> str:
        return self.id


@dataclass(frozen=True)
class CentreTree:
    centres: Mapping[str, Centre]

    def get(self, centre_id: str) -> Centre:
        try:
            return self.centres[centre_id]
        except KeyError:
            raise KeyError(f"no centre {centre_id!r}") from None

    @property
    def roots(self) -> tuple[Centre, ...]:
        return tuple(c for c in self.centres.values() if c.parent_id is None)

    def parent(self, centre: Centre) -> Centre | None:
        return self.centres[centre.parent_id] if centre.parent_id else None

    def ancestors(self, centre: Centre) -> tuple[Centre, ...]:
        """From the parent up to the root."""
        found: list[Centre] = []
        current = self.parent(centre)
        while current is not None:
            found.append(current)
            current = self.parent(current)
        return tuple(found)

    def root_of(self, centre: Centre) -> Centre:
        chain = self.ancestors(centre)
        return chain[-1] if chain else centre

    def is_below(self, lower: Centre, upper: Centre) -> bool:
        """True when ``lower`` is a descendant of ``upper`` (not itself)."""
        return upper in self.ancestors(lower)

    def subtree_ids(self, centre: Centre) -> frozenset[str]:
        """The centre and every centre below it."""
        return frozenset(c.id for c in self.centres.values() if c == centre or self.is_below(c, centre))

    def home_for(self, area_code: str | None) -> Centre | None:
        """The deepest centre whose area holds ``area_code``; with no code, the only root (if one)."""
        if not area_code:
            return self.roots[0] if len(self.roots) == 1 else None
        holding = [c for c in self.centres.values() if _contains(c.area, area_code)]
        if not holding:
            return None
        return min(holding, key=lambda c: c.level.rank)


def _contains(outer: str, inner: str) -> bool:
    try:
        return area_contains(outer, inner)
    except ValueError:
        return False


def load_centres(text: str, known_areas: Mapping[str, object] | None = None) -> CentreTree:
    """Parse ``centres.yaml``; each centre's level must match its code and sit one below its parent.

    Format::

        version: 1
        centres:
          - {area: "150203", name_zh: 昆都仑区综治中心}                       # the district (root)
          - {area: "150203001000", parent: "150203", name_zh: 白云路街道综治中心}
          - {area: "150203001001", parent: "150203001000", name_zh: 第二社区人民调解室}
    """
    data = expect_mapping(parse_mapping(text, "centres"), "centres", required={"version", "centres"})
    expect_version(data, "centres")
    centres: dict[str, Centre] = {}
    for i, node in enumerate(expect_list(data["centres"], "centres.centres")):
        where = f"centres[{i}]"
        fields = expect_mapping(node, where, required={"area", "name_zh"}, optional={"parent", "note"})
        area = expect_str(fields["area"], f"{where}.area")
        try:
            level = _AREA_LEVEL.get(area_level(area))
        except ValueError as exc:
            raise DataFileError(f"{where}.area", str(exc)) from None
        if level is None:
            raise DataFileError(f"{where}.area", f"{area} is not a district, street or community code")
        if area in centres:
            raise DataFileError(f"{where}.area", f"a centre for {area} is already listed")
        if known_areas is not None and area not in known_areas:
            raise DataFileError(f"{where}.area", f"area {area} is not in the department registry")
        parent = fields.get("parent")
        parent_id = expect_str(parent, f"{where}.parent") if parent is not None else None
        if parent_id is not None:
            if parent_id not in centres:
                raise DataFileError(f"{where}.parent", f"{parent_id} must be listed before its children")
            above = centres[parent_id]
            if above.level.rank != level.rank + 1:
                raise DataFileError(
                    f"{where}.parent",
                    f"a {level.value} centre's parent must be one level up, not a {above.level}",
                )
            if not area_contains(above.area, area):
                raise DataFileError(f"{where}.parent", f"{area} does not lie in {above.area}")
        elif level is not CentreLevel.district:
            raise DataFileError(f"{where}.parent", f"a {level.value} centre needs a parent")
        centres[area] = Centre(area, level, expect_str(fields["name_zh"], f"{where}.name_zh"), parent_id)
    if not centres:
        raise DataFileError("centres", "at least the district centre is needed")
    return CentreTree(centres)


# Staff write the reasons of 上报/下派 as free text; a quoted phone or resident ID number is masked
# before the reason is stored, audited or put into an event (the same rule as intake's free text).
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?1[3-9]\d{9}(?![0-9A-Za-z])")
_LANDLINE_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])0\d{2,3}-?\d{7,8}(?![0-9A-Za-z])")
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def redact_reason(text: str) -> str:
    """ "联系13812341234" → "联系138****1234"; an 18-character ID keeps its first 6 and last 4."""
    text = _RESIDENT_ID_IN_TEXT.sub(lambda m: m.group(0)[:6] + "*" * 8 + m.group(0)[-4:], text)
    text = _MOBILE_IN_TEXT.sub(lambda m: m.group(0)[:-8] + "****" + m.group(0)[-4:], text)
    return _LANDLINE_IN_TEXT.sub(
        lambda m: m.group(0)[:-4].rstrip("0123456789") + "****" + m.group(0)[-4:], text
    )
