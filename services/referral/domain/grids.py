"""Grids (网格) as data: the smallest area unit, each under one community centre (pure).

Loaded from ``grids.yaml`` by :func:`load_grids`, checked against the centre tree: a grid's parent is a
community centre. A grid worker (role grid_worker) is bound to one grid; the tasks of a grid
(``tasks.grid``) are that worker's (services/referral/usecases/grid.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hub.datafile import DataFileError, expect_list, expect_mapping, expect_str, expect_version, parse_mapping

from .centres import CentreLevel, CentreTree

GRID_CODE = re.compile(r"^[A-Za-z0-9_\-.]{1,64}$")  # as intake's location.grid_code


@dataclass(frozen=True)
class Grid:
    code: str
    community: str  # the community centre's area code
    name_zh: str


@dataclass(frozen=True)
class Grids:
    grids: Mapping[str, Grid]

    def get(self, code: str | None) -> Grid | None:
        return self.grids.get(code) if code else None


def load_grids(text: str, centres: CentreTree) -> Grids:
    """Parse ``grids.yaml``; each grid's community must be a community centre of the tree.

    Format::

        version: 1
        grids:
          - {code: "150203001001001", community: "150203001001", name_zh: 第二社区第一网格}
    """
    data = expect_mapping(parse_mapping(text, "grids"), "grids", required={"version", "grids"})
    expect_version(data, "grids")
    grids: dict[str, Grid] = {}
    for i, node in enumerate(expect_list(data["grids"], "grids.grids")):
        where = f"grids[{i}]"
        fields = expect_mapping(node, where, required={"code", "community", "name_zh"}, optional={"note"})
        code = expect_str(fields["code"], f"{where}.code")
        if not GRID_CODE.match(code):
            raise DataFileError(f"{where}.code", f"{code!r} is not a grid code (1–64 letters, digits, . _ -)")
        if code in grids:
            raise DataFileError(f"{where}.code", f"grid {code} is already listed")
        community = expect_str(fields["community"], f"{where}.community")
        centre = centres.centres.get(community)
        if centre is None or centre.level is not CentreLevel.community:
            raise DataFileError(
                f"{where}.community", f"{community} is not a community centre of centres.yaml"
            )
        grids[code] = Grid(code, community, expect_str(fields["name_zh"], f"{where}.name_zh"))
    return Grids(grids)
