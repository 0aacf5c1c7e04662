"""Suspected-duplicate detection and repeat counting (RULES.md "Duplicates"), pure functions.

A suspected duplicate is an earlier case with the same reporter (phone hash) or the same normalised
address, the same category, registered within 7 days, and similar text. A dispatcher decides
whether to merge; this module only points at the best candidate.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from hub.contracts.vocabulary import Category

DUPLICATE_WINDOW = timedelta(days=7)
REPEAT_WINDOW = timedelta(days=30)
# Measured on a handful of hand-written pairs: two independent write-ups of one matter score 0.17-0.44 (bigram
# overlap coefficient), unrelated complaints of one category 0-0.13. Jaccard separates less well
# (0.08+ vs up to 0.07) because a short hotline summary is swamped by a long window record. The
# reporter/address + category + 7-day gates do most of the work; this only drops unrelated matters.
# Checked again on generated months of cases with known truth (channel boilerplate removed first):
# tests/unit/intake/test_intake_duplicate_precision.py prints precision and recall.
DEFAULT_SIMILARITY_THRESHOLD = 0.15


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """What duplicate detection needs to know about a case (no plaintext phone)."""

    case_no: str | None
    reporter_phone_hash: str | None  # None for anonymous reporters
    address: str  # compared after normalise_address(), so raw or normalised both work
    category: Category
    registered_at: datetime
    text: str  # title + description


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    candidate: CaseSummary
    similarity: float
    same_reporter: bool
    same_address: bool


# --- normalisation -------------------------------------------------------------------------------

_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_NUMBER_BEFORE_UNIT = re.compile(
    r"([零〇一二两三四五六七八九十]{1,3})(?=(号楼|栋|幢|单元|楼|层|号|室|组|巷|排))"
)
_BUILDING = re.compile(r"(\d+)(号楼|幢|座)")
_DASHED_UNIT = re.compile(r"(\d+)-(\d+)-(\d+)$")  # 3-2-501: building-unit-room
_TRAILING_ROOM = re.compile(r"(\d+)[室号]$")
_NOT_WORD = re.compile(r"[^\w]|_", re.UNICODE)
# "凯旋城小区南门" and "凯旋城南门附近" name one place: 小区 after a name is the generic word for a
# residential compound, and a trailing 附近/旁边/周边 only says "around there".
_GENERIC_COMPOUND = re.compile(r"(?<=[\u4e00-\u9fff]{2})小区(?=.)")
_VAGUE_TAIL = re.compile(r"(?:附近|旁边|周边|一带|旁)$")


def _cn_number(text: str) -> str:
    """Chinese numerals 0-99 to digits ("十二" -> "12", "二十" -> "20"); longer forms unchanged."""
    if "十" not in text:
        return "".join(str(_CN_DIGITS[ch]) for ch in text)
    tens, _, units = text.partition("十")
    if len(tens) > 1 or len(units) > 1:
        return text
    return str((_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[units] if units else 0))


# Leading administrative divisions and the road a place is on: 12345 work orders write
# "包头市昆都仑区少先路街道万达嘉园20号楼…", the window "万达嘉园20栋…", police "民族东路万达嘉园…".
# Each is stripped from the front only while what remains still starts with a name of at least two
# characters (so "青山路12栋" keeps its road: the building number alone would say nothing), and
# never inside a name: 小区/社区/园区… are not districts, 街坊 is not a street, 市场 is not a city.
_CJK = "\u4e00-\u9fff"
_ADMIN_PREFIXES = (
    re.compile(rf"^[{_CJK}]{{2,8}}?(?:省|自治区)"),
    re.compile(rf"^[{_CJK}]{{2,8}}?市(?!场)"),
    re.compile(rf"^[{_CJK}]{{1,6}}?(?<![小社园校厂矿景营])(?:区|县|旗)"),
    re.compile(rf"^[{_CJK}]{{1,8}}?(?:街道(?:办事处)?|镇|乡|苏木)"),
    re.compile(rf"^[{_CJK}]{{1,8}}?(?:大街|大道|路|街(?!坊)|道|巷)(?:\d+号(?:院)?)?"),
)
_NAMED = re.compile(rf"^[{_CJK}]{{2}}")
# A place given relative to the road ("阿尔丁大街北侧…", "…与青山路交叉口") needs the road.
_RELATIVE = re.compile(r"^(?:[东西南北][侧面边头段口]|与|交叉|附近|对面|旁|沿线|路口|中段)")


def _strip_admin_prefix(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for pattern in _ADMIN_PREFIXES:
            match = pattern.match(text)
            rest = text[match.end() :] if match else ""
            if match and _NAMED.match(rest) and not _RELATIVE.match(rest):
                text = text[match.end() :]
                changed = True
    return text


# A registration compares its case with up to 200 earlier ones at the same address or from the same
# reporter, and the next registration there with the same ones again: normalising each address and each
# text once, not once per registration, is most of intake's CPU at a hot address. Pure functions of one
# string; the caches are bounded (about 1 MB of addresses, 15 MB of bigram sets at most).
@lru_cache(maxsize=8192)
def normalise_address(address: str) -> str:
    """Canonical form for comparing addresses typed differently by different channels.

    NFKC (full-width digits), no whitespace or punctuation, Chinese numerals before unit words as
    digits, 号楼/幢/座 unified to 栋, a trailing 室/号 after the room number dropped; "3-2-501" and
    "三号楼二单元501室" both become "3栋2单元501". Leading province, city, district, sub-district and
    road are dropped while a place name follows, so "包头市昆都仑区少先路街道东方花园3-2-501" and
    "东方花园三号楼二单元501室" are the same address.
    """
    text = unicodedata.normalize("NFKC", address).lower().strip()
    text = _CN_NUMBER_BEFORE_UNIT.sub(lambda m: _cn_number(m.group(1)), text)
    text = re.sub(r"[\s,.;:!?。，；：！？、]+$", "", re.sub(r"\s+", "", text))
    text = _DASHED_UNIT.sub(r"\1栋\2单元\3", _TRAILING_ROOM.sub(r"\1", text))
    text = _BUILDING.sub(r"\1栋", text)
    text = _NOT_WORD.sub("", text)
    text = _strip_admin_prefix(_TRAILING_ROOM.sub(r"\1", text))
    return _GENERIC_COMPOUND.sub("", _VAGUE_TAIL.sub("", text))


_ROOM_IN_UNIT = re.compile(r"^(.+\d+栋\d+单元)\d+$")


def unit_of(normalised_address: str) -> str | None:
    """The building unit of a normalised address with a room ("东方花园5栋2单元302" -> "东方花园5栋2单元")."""
    match = _ROOM_IN_UNIT.match(normalised_address)
    return match.group(1) if match else None


def same_address(a: str, b: str) -> bool:
    """Two normalised addresses name the same place: equal, or one is a building unit given without a
    room (police and grid records often stop at the unit) and the other a room in that unit."""
    if not a or not b:
        return False
    return a == b or unit_of(a) == b or unit_of(b) == a


def normalise_text(text: str) -> str:
    """Letters, digits and CJK only, NFKC, lower case: what text similarity compares."""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


# Phrases every record of a channel carries whatever the matter ("市民来电反映：…诉求…" on 12345,
# "报警人称" on 110): shared by unrelated work orders, so they are not evidence of the same matter.
BOILERPLATE = (
    "市民来电反映",
    "来电人反映",
    "市民来电",
    "来电反映",
    "市民反映",
    "群众反映",
    "报警人称",
    "报警称",
    "网格员巡查发现",
    "网格员走访了解到",
    "网格员了解到",
    "网格员",
    "诉求相关部门处理",
    "诉求尽快处理",
    "请相关部门",
    "相关部门",
    "诉求",
    "反映",
)
_BOILERPLATE = re.compile("|".join(map(re.escape, BOILERPLATE)))


@lru_cache(maxsize=1024)
def bigrams(text: str) -> frozenset[str]:
    norm = _BOILERPLATE.sub("", normalise_text(text))
    if len(norm) == 1:
        return frozenset({norm})
    return frozenset(norm[i : i + 2] for i in range(len(norm) - 1))


def text_similarity(a: str, b: str) -> float:
    """Overlap coefficient of character bigrams, |A∩B| / min(|A|, |B|), 0.0-1.0.

    Character bigrams need no word segmentation for Chinese; the overlap coefficient (rather than
    Jaccard) keeps a short summary of a long record similar to it.
    """
    left, right = bigrams(a), bigrams(b)
    if not left or not right:
        return 0.0
    return len(left & right) / min(len(left), len(right))


# --- decisions -----------------------------------------------------------------------------------


def same_matter(new: CaseSummary, earlier: CaseSummary) -> tuple[bool, bool]:
    """(same_reporter, same_address) for two cases of the same category; (False, False) otherwise."""
    if new.category != earlier.category:
        return False, False
    reporter = new.reporter_phone_hash
    same_reporter = reporter is not None and reporter == earlier.reporter_phone_hash
    address_match = same_address(normalise_address(new.address), normalise_address(earlier.address))
    return same_reporter, address_match


def find_suspected_duplicate(
    new: CaseSummary,
    candidates: Iterable[CaseSummary],
    *,
    threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
    window: timedelta = DUPLICATE_WINDOW,
) -> DuplicateMatch | None:
    """The most similar qualifying candidate, or None. Ties go to the earliest registered.

    The window applies either side of ``new`` so that clock skew between channels cannot hide one.
    """
    best: DuplicateMatch | None = None
    for candidate in candidates:
        if candidate.case_no is not None and candidate.case_no == new.case_no:
            continue
        if abs(new.registered_at - candidate.registered_at) > window:
            continue
        same_reporter, same_address = same_matter(new, candidate)
        if not (same_reporter or same_address):
            continue
        similarity = text_similarity(new.text, candidate.text)
        if similarity < threshold:
            continue
        match = DuplicateMatch(candidate, similarity, same_reporter, same_address)
        if best is None or (similarity, -candidate.registered_at.timestamp()) > (
            best.similarity,
            -best.candidate.registered_at.timestamp(),
        ):
            best = match
    return best


def matter_keys(category: Category, reporter_phone_hash: str | None, address: str) -> frozenset[str]:
    """Keys under which a store indexes a case for repeat counting.

    Two cases are "the same matter" for grading when they share a key: same category and same
    reporter or same normalised address. Text is deliberately not compared: a repeat complaint is
    often short ("又来了") and still the same matter. Keys are exact addresses: a building unit given
    without a room, which `same_address` matches with the rooms in it, needs a prefix lookup.
    """
    keys = set()
    if reporter_phone_hash:
        keys.add(f"{category.value}|reporter|{reporter_phone_hash}")
    normalised = normalise_address(address)
    if normalised:
        keys.add(f"{category.value}|address|{normalised}")
    return frozenset(keys)


def count_repeats(
    new: CaseSummary, earlier: Iterable[CaseSummary], *, window: timedelta = REPEAT_WINDOW
) -> int:
    """repeat_count_30d for grading: earlier reports of the same matter within ``window`` before it."""
    count = 0
    for case in earlier:
        age = new.registered_at - case.registered_at
        if case.case_no is not None and case.case_no == new.case_no:
            continue
        if timedelta(0) <= age <= window and any(same_matter(new, case)):
            count += 1
    return count
