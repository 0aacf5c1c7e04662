"""Suspected duplicates, address normalisation, text similarity and repeat counting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.contracts.vocabulary import Category
from services.intake.domain.duplicates import (
    DEFAULT_SIMILARITY_THRESHOLD,
    CaseSummary,
    count_repeats,
    find_suspected_duplicate,
    matter_keys,
    normalise_address,
    text_similarity,
)

T0 = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
ADDRESS = normalise_address("东方花园5栋2单元302室")

NEW = CaseSummary(
    case_no="ZZ20250610-0002",
    reporter_phone_hash="h-wang",
    address=ADDRESS,
    category=Category.public_facilities_alteration,
    registered_at=T0,
    text="楼上住户私自改造公共烟道，家中异味严重",
)
SAME_MATTER = replace(
    NEW,
    case_no="ZZ20250607-0001",
    registered_at=T0 - timedelta(days=3),
    text="反映楼上邻居私改烟道，油烟排不出去，家里全是异味",
)


@pytest.mark.parametrize(
    "spelling",
    [
        "东方花园 5号楼2单元302",
        "东方花园5-2-302",
        "东方花园５幢２单元３０２室",
        "东方花园五栋二单元302室。",
        "东方花园5座2单元302号",
    ],
)
def test_address_spellings_normalise_alike(spelling: str) -> None:
    assert normalise_address(spelling) == ADDRESS == "东方花园5栋2单元302"


def test_different_addresses_stay_different() -> None:
    assert normalise_address("东方花园5栋2单元302") != normalise_address("东方花园5栋2单元402")
    assert normalise_address("青山路十二号楼") == "青山路12栋"


def test_text_similarity() -> None:
    assert text_similarity("私改烟道", "私改烟道") == 1.0
    assert text_similarity("私改烟道", "物业收费") == 0.0
    assert text_similarity("", "物业收费") == 0.0
    assert text_similarity(NEW.text, SAME_MATTER.text) >= DEFAULT_SIMILARITY_THRESHOLD
    assert text_similarity(NEW.text, "楼道里私自安装防盗门，占用公共通道") < DEFAULT_SIMILARITY_THRESHOLD
    # Punctuation, width and case do not matter.
    assert text_similarity("ＡＢＣ，烟道！", "abc烟道") == 1.0


def test_same_reporter_same_category_within_seven_days_and_similar_is_suspected() -> None:
    other_address = replace(SAME_MATTER, address=normalise_address("别处1栋"))
    match = find_suspected_duplicate(NEW, [other_address])
    assert match is not None
    assert (match.candidate, match.same_reporter, match.same_address) == (other_address, True, False)
    assert match.similarity >= DEFAULT_SIMILARITY_THRESHOLD


def test_same_address_different_reporter_is_suspected() -> None:
    neighbour = replace(SAME_MATTER, reporter_phone_hash="h-li")
    match = find_suspected_duplicate(NEW, [neighbour])
    assert match is not None and (match.same_reporter, match.same_address) == (False, True)
    # Addresses are compared normalised, whatever form the summaries carry.
    typed = replace(neighbour, address="东方花园５-２-３０２")
    assert find_suspected_duplicate(NEW, [typed]) is not None


@pytest.mark.parametrize(
    "candidate",
    [
        replace(SAME_MATTER, category=Category.neighbour),
        replace(SAME_MATTER, registered_at=T0 - timedelta(days=7, seconds=1)),
        replace(SAME_MATTER, reporter_phone_hash="h-li", address="别处1栋"),
        replace(SAME_MATTER, text="小区物业费上涨，业主不同意"),
        replace(SAME_MATTER, case_no=NEW.case_no),  # the new case itself
    ],
    ids=["other-category", "too-old", "other-reporter-and-address", "dissimilar", "itself"],
)
def test_not_a_duplicate(candidate: CaseSummary) -> None:
    assert find_suspected_duplicate(NEW, [candidate]) is None


def test_window_boundary_is_inclusive() -> None:
    assert find_suspected_duplicate(NEW, [replace(SAME_MATTER, registered_at=T0 - timedelta(days=7))])


def test_anonymous_reporters_are_not_the_same_reporter() -> None:
    anon_new = replace(NEW, reporter_phone_hash=None)
    anon_old = replace(SAME_MATTER, reporter_phone_hash=None, address="别处1栋")
    assert find_suspected_duplicate(anon_new, [anon_old]) is None


def test_best_match_wins_and_ties_go_to_the_earliest() -> None:
    weaker = replace(SAME_MATTER, case_no="A")
    exact_late = replace(SAME_MATTER, case_no="B", text=NEW.text, registered_at=T0 - timedelta(days=1))
    exact_early = replace(SAME_MATTER, case_no="C", text=NEW.text, registered_at=T0 - timedelta(days=2))
    match = find_suspected_duplicate(NEW, [weaker, exact_late, exact_early])
    assert match is not None and match.candidate.case_no == "C" and match.similarity == 1.0


def test_threshold_is_configurable() -> None:
    assert find_suspected_duplicate(NEW, [SAME_MATTER], threshold=0.99) is None
    assert find_suspected_duplicate(NEW, [SAME_MATTER], threshold=0.0) is not None


def test_count_repeats_within_thirty_days() -> None:
    earlier = [
        replace(SAME_MATTER, case_no="1", registered_at=T0 - timedelta(days=1)),
        replace(SAME_MATTER, case_no="2", registered_at=T0 - timedelta(days=30)),
        replace(SAME_MATTER, case_no="3", registered_at=T0 - timedelta(days=31)),  # too old
        replace(SAME_MATTER, case_no="4", category=Category.noise),  # another matter
        replace(SAME_MATTER, case_no="5", reporter_phone_hash="x", address="别处"),  # someone else
        replace(SAME_MATTER, case_no="6", text="又来了"),  # repeats need no similar text
        replace(SAME_MATTER, case_no="7", registered_at=T0 + timedelta(hours=1)),  # later, not earlier
        NEW,
    ]
    assert count_repeats(NEW, earlier) == 3


def test_matter_keys() -> None:
    keys = matter_keys(Category.noise, "h-wang", "东方花园 5号楼2单元302")
    assert keys == {"noise|reporter|h-wang", "noise|address|东方花园5栋2单元302"}
    assert matter_keys(Category.noise, None, "东方花园5-2-302") == {"noise|address|东方花园5栋2单元302"}
    assert matter_keys(Category.noise, "h", "x").isdisjoint(matter_keys(Category.family, "h", "x"))
