"""Keyword classifier: jieba segmentation with the keyword dictionary, scoring, explanation, rule file."""

from __future__ import annotations

import pytest

from hub.contracts.vocabulary import Category
from hub.datafile import DataFileError
from services.intake.domain.classifier import (
    KeywordClassifier,
    default_classifier,
    load_classifier_rules,
)


@pytest.fixture(scope="module")
def classifier() -> KeywordClassifier:
    return default_classifier()


def test_keywords_segment_whole(classifier: KeywordClassifier) -> None:
    tokens = classifier.segment("楼上住户私自改造公共烟道，拖欠工程款")
    assert "公共烟道" in tokens
    assert "拖欠工程款" in tokens
    assert "私自改造" in tokens


@pytest.mark.parametrize(
    ("title", "description", "category", "words"),
    [
        ("单位拖欠工资三个月", "", Category.labour, ["拖欠工资"]),
        ("夫妻离婚后抚养费不给", "", Category.family, ["夫妻", "离婚", "抚养费"]),
        ("有人在小区盗窃电动车", "", Category.public_security, ["盗窃"]),
        ("化工厂夜间偷排", "河水发黑", Category.public_interest_clue, ["偷排"]),
        ("法院判决后对方拒不履行", "申请执行未果", Category.law_related, ["法院", "判决", "申请执行"]),
        ("银行信用卡催收", "", Category.finance, ["银行", "信用卡", "催收"]),
        ("反映问题", "多年来多次上访未果", Category.petition, ["上访"]),
        ("广场舞音响太吵", "", Category.noise, ["广场舞", "音响"]),
    ],
)
def test_classifies_and_explains(
    classifier: KeywordClassifier, title: str, description: str, category: Category, words: list[str]
) -> None:
    suggestion = classifier.classify(title, description)
    assert suggestion.category is category
    assert suggestion.matched_words == words
    assert suggestion.score > 0


def test_unrelated_text_is_other_with_no_words(classifier: KeywordClassifier) -> None:
    suggestion = classifier.classify("你好", "想了解一下办事流程")
    assert (suggestion.category, suggestion.score, suggestion.matched_words) == (Category.other, 0.0, [])


def test_a_weak_hint_alone_is_not_enough_but_the_title_boost_counts(classifier: KeywordClassifier) -> None:
    # 电梯 weighs 1 for property; min_score is 2, a word in the title counts twice.
    assert classifier.classify("问题反映", "电梯").category is Category.other
    titled = classifier.classify("电梯", "问题反映")
    assert (titled.category, titled.score, titled.matched_words) == (Category.property, 2.0, ["电梯"])


def test_keyword_inside_a_jieba_compound_still_counts(classifier: KeywordClassifier) -> None:
    # jieba's own dictionary has 邻里关系; the keyword is 邻里.
    suggestion = classifier.classify("邻里关系紧张", "")
    assert suggestion.category is Category.neighbour
    assert suggestion.matched_words == ["邻里"]


def test_each_keyword_counts_once(classifier: KeywordClassifier) -> None:
    once = classifier.classify("", "噪音")
    thrice = classifier.classify("", "噪音，噪音，还是噪音")
    assert once.score == thrice.score == 3.0


def test_full_width_text_and_keywords_are_normalised() -> None:
    rules = load_classifier_rules(TIE_RULES.replace("{吵: 2}", "{ＫＴＶ: 2}"))
    suggestion = KeywordClassifier(rules).classify("", "楼下ktv太吵")
    assert (suggestion.category, suggestion.matched_words) == (Category.noise, ["ktv"])
    assert KeywordClassifier(rules).classify("", "楼下ＫＴＶ").category is Category.noise


def test_deterministic(classifier: KeywordClassifier) -> None:
    runs = {classifier.classify("物业费纠纷", "业主与物业公司争议").model_dump_json() for _ in range(3)}
    assert len(runs) == 1


TIE_RULES = """
version: 1
title_boost: 2
min_score: 1
categories:
  noise: {吵: 2}
  neighbour: {邻居: 2}
"""


def test_ties_go_to_the_category_listed_first() -> None:
    classifier = KeywordClassifier(load_classifier_rules(TIE_RULES))
    assert classifier.classify("", "邻居很吵").category is Category.noise
    swapped = TIE_RULES.replace(
        "  noise: {吵: 2}\n  neighbour: {邻居: 2}", "  neighbour: {邻居: 2}\n  noise: {吵: 2}"
    )
    assert (
        KeywordClassifier(load_classifier_rules(swapped)).classify("", "邻居很吵").category
        is Category.neighbour
    )


def test_classifier_does_not_load_jieba_until_used() -> None:
    classifier = KeywordClassifier(load_classifier_rules(TIE_RULES))
    assert classifier._tokenizer is None
    classifier.classify("", "吵")
    assert classifier._tokenizer is not None


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (TIE_RULES.replace("noise:", "weather:"), "categories.weather"),
        (TIE_RULES.replace("noise:", "other:"), "categories.other"),
        (TIE_RULES.replace("吵: 2", "吵: 0"), "categories.noise.吵"),
        (TIE_RULES.replace("吵: 2", "吵: yes"), "categories.noise.吵"),
        (TIE_RULES.replace("{吵: 2}", "{ＡＢ: 2, ab: 1}"), "categories.noise.ab"),
        (TIE_RULES.replace("min_score: 1", "min_score: -1"), "min_score"),
        (TIE_RULES.replace("version: 1", "version: 3"), "classifier.version"),
        (TIE_RULES.replace("title_boost: 2", "title_bost: 2"), "classifier"),
    ],
)
def test_bad_classifier_files_are_refused(text: str, where: str) -> None:
    with pytest.raises(DataFileError) as info:
        load_classifier_rules(text)
    assert info.value.where == where


def test_every_category_but_other_has_keywords() -> None:
    from services.intake.domain.classifier import load_classifier_rules as load
    from services.intake.domain.resources import read_rule_text

    rules = load(read_rule_text("classifier.yaml"))
    assert set(rules.keywords) == set(Category) - {Category.other}
