import math

from hypothesis import given
from hypothesis import strategies as st

from services.notification.domain.segments import segment_count, split_segments, ucs2_length

HAN = "中"
EMOJI = "😀"  # outside the BMP: a surrogate pair, two UCS-2 units
RARE_HAN = "𠮷"  # CJK Extension B, appears in real personal names


def test_empty_text_has_no_segments() -> None:
    assert segment_count("") == 0
    assert split_segments("") == []


def test_single_segment_boundary_70_71() -> None:
    assert segment_count(HAN * 70) == 1
    assert split_segments(HAN * 70) == [HAN * 70]
    assert segment_count(HAN * 71) == 2
    assert [len(p) for p in split_segments(HAN * 71)] == [67, 4]


def test_multipart_boundary_134_135() -> None:
    assert segment_count(HAN * 134) == 2
    assert [len(p) for p in split_segments(HAN * 134)] == [67, 67]
    assert segment_count(HAN * 135) == 3
    assert [len(p) for p in split_segments(HAN * 135)] == [67, 67, 1]


def test_non_bmp_character_counts_two_units() -> None:
    assert ucs2_length(EMOJI) == 2
    assert ucs2_length(RARE_HAN + HAN) == 3
    # 70 Python characters, but 71 UCS-2 units: no longer fits one SMS.
    assert len(HAN * 69 + RARE_HAN) == 70
    assert segment_count(HAN * 69 + RARE_HAN) == 2
    assert segment_count(HAN * 68 + RARE_HAN) == 1


def test_surrogate_pair_is_never_split_across_parts() -> None:
    text = HAN * 66 + EMOJI + HAN * 66  # 134 units, ceil(134/67) would say 2
    parts = split_segments(text)
    assert parts == [HAN * 66, EMOJI + HAN * 65, HAN]
    assert segment_count(text) == 3
    assert "".join(parts) == text


@given(st.text(max_size=400))
def test_split_is_lossless_and_parts_fit(text: str) -> None:
    parts = split_segments(text)
    assert "".join(parts) == text
    assert segment_count(text) == len(parts)
    limit = 70 if len(parts) == 1 else 67
    assert all(0 < ucs2_length(p) <= limit for p in parts)


@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), min_size=71))
def test_bmp_only_text_matches_the_formula(text: str) -> None:
    assert segment_count(text) == math.ceil(len(text) / 67)
