"""Grids (网格) as data (services/referral/data/grids.yaml): each grid lies under a community centre of
centres.yaml; a deployment's own centres without its own grids has none (not the sample's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.datafile import DataFileError
from services.referral.config import ReferralConfig
from services.referral.data import read_data_file
from services.referral.domain.centres import load_centres
from services.referral.domain.grids import load_grids

CENTRES = load_centres(read_data_file("centres.yaml"))


def test_the_packaged_grids_lie_in_the_packaged_communities() -> None:
    grids = load_grids(read_data_file("grids.yaml"), CENTRES)
    first = grids.get("150203001001001")
    assert first is not None and first.community == "150203001001" and first.name_zh.endswith("网格")
    assert grids.get("nowhere") is None and grids.get(None) is None
    assert ReferralConfig.load().grid_registry.get("150203001001002") is not None


@pytest.mark.parametrize(
    ("grid", "why"),
    [
        ('{code: "G1", community: "150203001000", name_zh: 街道下的网格}', "community centre"),  # a street
        ('{code: "G1", community: "150203009009", name_zh: 未知社区}', "community centre"),
        ('{code: "G 1", community: "150203001001", name_zh: 空格}', "grid code"),
    ],
)
def test_a_grid_must_sit_under_a_known_community(grid: str, why: str) -> None:
    with pytest.raises(DataFileError, match=why):
        load_grids(f"version: 1\ngrids:\n  - {grid}\n", CENTRES)


def test_a_grid_is_listed_once() -> None:
    twice = '  - {code: "G1", community: "150203001001", name_zh: 一}\n'
    with pytest.raises(DataFileError, match="already listed"):
        load_grids(f"version: 1\ngrids:\n{twice}{twice}", CENTRES)


def test_own_centres_without_own_grids_have_no_grids(tmp_path: Path) -> None:
    (tmp_path / "centres.yaml").write_text(read_data_file("centres.yaml"), encoding="utf-8")
    assert ReferralConfig.load(tmp_path).grid_registry.grids == {}
    (tmp_path / "grids.yaml").write_text(
        'version: 1\ngrids:\n  - {code: "G1", community: "150203001001", name_zh: 一}\n', encoding="utf-8"
    )
    assert list(ReferralConfig.load(tmp_path).grid_registry.grids) == ["G1"]
