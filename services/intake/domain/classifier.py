"""Transparent keyword classifier over Chinese text (title + description).

Text is segmented with jieba (keywords added to its dictionary so multi-character terms stay
whole); a token counts as the keyword it equals, or else the longest keyword inside it. Each
distinct keyword found adds its weight to its category, times ``title_boost`` when it appears in
the title. The best category wins if it reaches ``min_score``; ties go to the category
listed first in the rule file. No learning, no randomness: the matched words are the explanation.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from hub.contracts.vocabulary import Category
from hub.datafile import DataFileError, expect_mapping, expect_version, parse_mapping

from .resources import read_rule_text
from .signal_text import alternation

if TYPE_CHECKING:
    import jieba


class Suggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: Category
    score: float
    matched_words: list[str]  # in order of first appearance (title first)


@dataclass(frozen=True, slots=True)
class ClassifierRules:
    title_boost: float
    min_score: float
    # category -> keyword -> weight; dict order is the tie-break order
    keywords: Mapping[Category, Mapping[str, float]]


def load_classifier_rules(text: str) -> ClassifierRules:
    data = parse_mapping(text, "classifier")
    expect_mapping(data, "classifier", required={"version", "title_boost", "min_score", "categories"})
    expect_version(data, "classifier")
    title_boost = _positive(data["title_boost"], "title_boost")
    min_score = _positive(data["min_score"], "min_score")
    categories = data["categories"]
    if not isinstance(categories, Mapping) or not categories:
        raise DataFileError("categories", "expected a mapping of category -> {keyword: weight}")
    keywords: dict[Category, dict[str, float]] = {}
    for code, words in categories.items():
        try:
            category = Category(code)
        except ValueError:
            raise DataFileError(f"categories.{code}", "unknown category") from None
        if category is Category.other:
            raise DataFileError("categories.other", "`other` is the fallback and takes no keywords")
        if not isinstance(words, Mapping) or not words:
            raise DataFileError(f"categories.{code}", "expected a mapping of keyword -> weight")
        table: dict[str, float] = {}
        for word, weight in words.items():
            where = f"categories.{code}.{word}"
            if not isinstance(word, str) or not word.strip():
                raise DataFileError(where, "keywords must be non-empty strings")
            normalised = normalise_text(word)
            if normalised in table:
                raise DataFileError(where, "duplicate keyword")
            table[normalised] = _positive(weight, where)
        keywords[category] = table
    return ClassifierRules(title_boost, min_score, keywords)


def _positive(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
        raise DataFileError(where, f"expected a positive number, got {raw!r}")
    return float(raw)


def normalise_text(text: str) -> str:
    """NFKC (full-width letters and digits to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


_HITS_MAX = 100_000


class KeywordClassifier:
    """Classifier over one rule set. jieba is loaded on the first call, not on construction."""

    def __init__(self, rules: ClassifierRules) -> None:
        self._rules = rules
        self._tokenizer: jieba.Tokenizer | None = None
        self._blocks: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        # Any keyword, searched in C: see _keyword_tokens.
        self._any_keyword = re.compile(alternation(w for ws in rules.keywords.values() for w in ws))
        # token -> the keyword it stands for in each category (rule order): tokens repeat across
        # cases, so each is matched against the keyword tables once (bounded; cleared when full).
        self._hits: dict[str, tuple[str | None, ...]] = {}

    def _token_hits(self, token: str) -> tuple[str | None, ...]:
        hits = self._hits.get(token)
        if hits is None:
            if len(self._hits) >= _HITS_MAX:
                self._hits.clear()
            hits = tuple(_keyword_in(token, weights) for weights in self._rules.keywords.values())
            self._hits[token] = hits
        return hits

    @property
    def loaded(self) -> bool:
        """Whether jieba's dictionary is built (else the next segment builds it first)."""
        return self._tokenizer is not None

    def _get_tokenizer(self) -> jieba.Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                import jieba  # deferred: importing and initialising jieba costs about a second

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                keywords = [word for words in self._rules.keywords.values() for word in words]
                tokenizer.FREQ, tokenizer.total = _lean_dictionary(tokenizer.get_dict_file(), keywords)
                tokenizer.initialized = True
                for word in keywords:
                    tokenizer.add_word(word)  # freq=None: jieba suggests one that keeps it whole
                self._blocks = jieba.re_han_default
                self._tokenizer = tokenizer
            return self._tokenizer

    def segment(self, text: str) -> list[str]:
        tokens = self._get_tokenizer().cut(normalise_text(text), HMM=False)
        return [token for token in tokens if token.strip()]

    def _keyword_tokens(self, text: str) -> list[str]:
        """The tokens of `segment` that may stand for a keyword, in order. jieba cuts a text into
        blocks (runs of Han characters, letters and digits; the rest at whitespace) and segments each
        block on its own, so a block with no keyword inside yields no such token and is not segmented
        (most of a report's clauses: its segmentation was over half of classifying)."""
        tokenizer = self._get_tokenizer()
        assert self._blocks is not None  # set with the tokenizer
        tokens: list[str] = []
        for block in self._blocks.split(normalise_text(text)):
            if block and self._any_keyword.search(block):
                tokens += [token for token in tokenizer.cut(block, HMM=False) if token.strip()]
        return tokens

    def classify(self, title: str, description: str) -> Suggestion:
        title_tokens = self._keyword_tokens(title)
        in_title = set(title_tokens)
        ordered = list(dict.fromkeys(title_tokens + self._keyword_tokens(description)))
        best: Suggestion | None = None
        per_token = [(token, self._token_hits(token)) for token in ordered]
        for index, (category, weights) in enumerate(self._rules.keywords.items()):
            hits = {token: word for token, found in per_token if (word := found[index])}
            matched = list(dict.fromkeys(hits.values()))
            title_words = {hits[token] for token in in_title if token in hits}
            boost = self._rules.title_boost
            score = sum(weights[word] * (boost if word in title_words else 1.0) for word in matched)
            if score >= self._rules.min_score and (best is None or score > best.score):
                best = Suggestion(category=category, score=score, matched_words=matched)
        return best or Suggestion(category=Category.other, score=0.0, matched_words=[])


# Dictionary words rarer than this are left out unless they hold a keyword (see _lean_dictionary).
_MIN_WORD_FREQ = 10


def _lean_dictionary(lines: Iterable[bytes], keywords: Iterable[str]) -> tuple[dict[str, int], int]:
    """jieba's prefix dictionary (its gen_pfdict) without the rare words: the 349,046 words with their
    prefixes take about 60 MB in every intake process, most of them words seen fewer than ten times in
    jieba's corpus that decide no keyword. Kept: every word seen at least _MIN_WORD_FREQ times (135,000
    with prefixes, about 16 MB), and every word holding a keyword, so a compound ("邻里关系") still
    stands for its keyword. The total counts every word, so each kept word scores as before.
    """
    # One alternation searched in C, not a Python loop over the keywords for each of 349,046 words.
    holds_keyword = re.compile(alternation(keywords))
    freq: dict[str, int] = {}
    total = 0
    try:
        for line in lines:
            raw_word, raw_count = line.split(b" ", 2)[:2]
            word, count = raw_word.decode("utf-8"), int(raw_count)
            total += count
            if count < _MIN_WORD_FREQ and not holds_keyword.search(word):
                continue
            freq[word] = count
            for end in range(1, len(word)):
                freq.setdefault(word[:end], 0)
    finally:
        close = getattr(lines, "close", None)
        if close:
            close()
    return freq, total


def _keyword_in(token: str, weights: Mapping[str, float]) -> str | None:
    """The keyword a token stands for: itself, else the longest keyword inside it.

    jieba's own dictionary holds compounds ("邻里关系") that would otherwise hide a keyword ("邻里").
    Taking one keyword per token keeps "拖欠工程款" from also counting "工程款" and "工程".
    """
    if token in weights:
        return token
    inside = [word for word in weights if len(word) > 1 and word in token]
    return max(inside, key=len) if inside else None


@cache
def default_classifier() -> KeywordClassifier:
    """Classifier over the packaged rules/classifier.yaml (read on first use)."""
    return KeywordClassifier(load_classifier_rules(read_rule_text("classifier.yaml")))


def classify(title: str, description: str) -> Suggestion:
    return default_classifier().classify(title, description)
