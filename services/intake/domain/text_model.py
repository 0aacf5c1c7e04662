"""A statistical second opinion on a report's words: P(red) from character n-grams, explainable.

The hand-written signal rules (signals.py) read what they were written for; a new writer's phrasing
slips past them (each new held-out split: red recall 0.857, 0.926, 0.750). This model learns from the
labelled corpus which character n-grams red reports share, so a red said in words no rule knows can
still be caught. It is a logistic regression over binary n-gram features, l2-normalised by the number
of distinct n-grams in the text, so inference is a dot product in pure Python: no scikit-learn at run
time. scripts/train-text-model trains it (scikit-learn, a dev dependency) and writes
rules/text_model.json; the same `ngrams` here is what it trains on.

Each score comes with the n-grams that pushed it up most, merged into spans of the text, so a
dispatcher sees which words looked red ("汽油", "一起死").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from hub.datafile import DataFileError

from .resources import read_rule_text
from .signal_evidence import EvidenceSpan
from .signal_text import TextPart, half_width

FORMAT_VERSION = 1
# What an n-gram never spans: spaces separate phrases, and a title never runs into its description.
_BREAK = re.compile(r"\s+")
# How many top n-grams per quoted span are looked at (the rest add little to a reason).
_GRAMS_LOOKED_AT = 3


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_DIGIT = re.compile(r"\d")


def fold(text: str) -> str:
    """The text as the model sees it, one character for one (offsets stay the text's own): full-width
    forms half-width, ASCII lower case, every digit "0" (a count or an amount is the rules' job; its
    shape is kept)."""
    return _DIGIT.sub("0", half_width(text).translate(_ASCII_LOWER))


def ngrams(texts: Sequence[str], n_min: int, n_max: int) -> set[str]:
    """Every distinct n-gram of the texts (none spans a space or a line break)."""
    found: set[str] = set()
    for text in texts:
        for chunk in _BREAK.split(fold(text)):
            for n in range(n_min, n_max + 1):
                found.update(chunk[start : start + n] for start in range(len(chunk) - n + 1))
    return found


# --- the model file ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextModel:
    n_min: int
    n_max: int
    weights: Mapping[str, float]  # n-gram -> weight (the selected features only)
    intercept: float
    red_threshold: float  # P(red) at or above which the second opinion speaks
    option: str  # "red" (raise to red) or "orange_review" (raise to orange, flag for review)
    max_quotes: int = 4
    meta: Mapping[str, Any] = field(default_factory=dict)  # corpus hash, script version, figures


def load_text_model(text: str) -> TextModel:
    """Parse and check a text model file (JSON); raise DataFileError naming the faulty field."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataFileError("text_model", f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DataFileError("text_model", "expected an object")
    if data.get("version") != FORMAT_VERSION:
        raise DataFileError("text_model.version", f"expected version {FORMAT_VERSION}")
    ngram = data.get("ngram_range")
    if not (isinstance(ngram, list) and len(ngram) == 2 and all(isinstance(n, int) for n in ngram)):
        raise DataFileError("text_model.ngram_range", "expected [min, max]")
    n_min, n_max = ngram
    if not 1 <= n_min <= n_max <= 8:
        raise DataFileError("text_model.ngram_range", "expected 1 <= min <= max <= 8")
    weights = data.get("weights")
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) for k, v in weights.items()
    ):
        raise DataFileError("text_model.weights", "expected an object of n-gram: weight")
    option = data.get("option")
    if option not in ("red", "orange_review"):
        raise DataFileError("text_model.option", "expected 'red' or 'orange_review'")
    threshold = _number(data.get("red_threshold"), "text_model.red_threshold")
    if not 0.0 < threshold < 1.0:
        raise DataFileError("text_model.red_threshold", "expected a probability between 0 and 1")
    max_quotes = data.get("max_quotes", 4)
    if not isinstance(max_quotes, int) or not 1 <= max_quotes <= 8:
        raise DataFileError("text_model.max_quotes", "expected 1 to 8")
    meta = data.get("meta", {})
    return TextModel(
        n_min=n_min,
        n_max=n_max,
        weights={k: float(v) for k, v in weights.items()},
        intercept=_number(data.get("intercept"), "text_model.intercept"),
        red_threshold=threshold,
        option=option,
        max_quotes=max_quotes,
        meta=meta if isinstance(meta, dict) else {},
    )


def _number(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise DataFileError(where, f"expected a number, got {raw!r}")
    return float(raw)


@cache
def default_text_model() -> TextModel:
    """The packaged rules/text_model.json (read on first use)."""
    return load_text_model(read_rule_text("text_model.json"))


# --- scoring and explaining ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextScore:
    probability: float  # P(red)
    spans: tuple[EvidenceSpan, ...]  # the words that pushed it up most, in text order
    ngrams: tuple[str, ...]  # the n-grams behind them, largest contribution first

    @property
    def quote(self) -> str:
        return "".join(f"“{span.text}”" for span in self.spans)


def red_probability(model: TextModel, parts: Sequence[TextPart]) -> float:
    """P(red) of a case's texts (the score alone: what grading needs for a report it does not raise)."""
    return _sigmoid(model.intercept + math.fsum(_contributions(model, parts).values()))


def _contributions(model: TextModel, parts: Sequence[TextPart]) -> dict[str, float]:
    found = ngrams([part.text for part in parts], model.n_min, model.n_max)
    scale = 1.0 / math.sqrt(len(found)) if found else 0.0
    weights = model.weights
    # The intersection is taken in C over the smaller side (a case's few hundred n-grams).
    return {gram: weights[gram] * scale for gram in found & weights.keys()}


def score_texts(model: TextModel, parts: Sequence[TextPart]) -> TextScore:
    """P(red) of a case's texts, with the spans of the n-grams that contributed most to it."""
    contributions = _contributions(model, parts)
    probability = _sigmoid(model.intercept + math.fsum(contributions.values()))
    # Single characters count in the score but quote nothing a dispatcher could read.
    top = sorted(
        (g for g, c in contributions.items() if c > 0 and len(g) > 1), key=lambda g: (-contributions[g], g)
    )
    return _explained(probability, top, parts, model.max_quotes)


def _explained(probability: float, top: list[str], parts: Sequence[TextPart], max_quotes: int) -> TextScore:
    """The top n-grams as spans of the text, overlapping ones merged ("一起" and "起死" quote "一起死"
    once), at most `max_quotes` spans. An n-gram is quoted where it first occurs past the title (a
    title restates its description's first words)."""
    folded = [fold(part.text) for part in parts]
    order = sorted(range(len(parts)), key=lambda i: (parts[i].source == "title", i))
    used: list[str] = []
    spans: dict[int, list[list[int]]] = {}
    for gram in top[: _GRAMS_LOOKED_AT * max_quotes]:
        index, start = next((i, folded[i].find(gram)) for i in order if gram in folded[i])
        end = start + len(gram)
        bucket = spans.setdefault(index, [])
        touching = any(start <= s[1] and s[0] <= end for s in bucket)
        if not touching and sum(len(b) for b in spans.values()) >= max_quotes:
            continue
        bucket.append([start, end])
        _coalesce(bucket)
        used.append(gram)
    out = [
        EvidenceSpan(
            source=parts[index].source,
            note_no=parts[index].note_no,
            start=start,
            end=end,
            text=parts[index].text[start:end],
        )
        for index in sorted(spans)
        for start, end in spans[index]
    ]
    return TextScore(probability, tuple(out), tuple(used))


def _coalesce(spans: list[list[int]]) -> None:
    """Sort the spans and merge those that overlap or touch, in place."""
    spans.sort()
    i = 0
    while i + 1 < len(spans):
        if spans[i + 1][0] <= spans[i][1]:
            spans[i][1] = max(spans[i][1], spans[i + 1][1])
            del spans[i + 1]
        else:
            i += 1


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)
