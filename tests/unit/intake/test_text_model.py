"""The text model (second opinion on red): the committed file is what scripts/train-text-model builds from
the corpus, pure-Python inference gives scikit-learn's scores, and the combination only ever raises the
rules' colour, with a reason quoting the words."""

from __future__ import annotations

import dataclasses
import importlib.machinery
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from hub.datafile import DataFileError
from services.intake.assessment import Assessor
from services.intake.domain.classifier import default_classifier
from services.intake.domain.grading import default_grading_rules, load_grading_rules
from services.intake.domain.model import CaseIn
from services.intake.domain.resources import read_rule_text
from services.intake.domain.second_opinion import RULE_ID
from services.intake.domain.signals import case_texts, default_signal_reader
from services.intake.domain.text_model import default_text_model, fold, load_text_model, score_texts

ROOT = Path(__file__).resolve().parents[3]
# A gathering the rules do not read ("一起去老板家讨个说法"): the model does.
MISSED = "来电人称工地老板拖欠工资半年，工友们说再不结账就一起去老板家讨个说法，到时候谁也拦不住"


def trainer() -> ModuleType:
    path = ROOT / "scripts" / "train-text-model"
    loader = importlib.machinery.SourceFileLoader("train_text_model", str(path))
    spec = importlib.util.spec_from_loader("train_text_model", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def case(description: str, title: str = "") -> CaseIn:
    return CaseIn.model_validate(
        {
            "channel": "hotline12345",
            "request_type": "complaint",
            "title": title or description[:16],
            "description": description,
            "reporter": {"anonymous": True},
            "location": {"address": "（未提供地址）"},
        }
    )


def switched_on() -> Assessor:
    rules = dataclasses.replace(default_grading_rules(), text_model_enabled=True)
    return Assessor(rules, default_classifier(), default_signal_reader(), default_text_model())


def grade(assessor: Assessor, description: str) -> tuple[str, list[dict[str, object]]]:
    c = case(description)
    category, _ = assessor.classify(c.title, c.description)
    out = assessor.grade(c, category, 0)
    return out.colour, out.reasons


def assert_same_model(built: object, committed: object, where: str = "") -> None:
    """Equal structure, keys, strings and whole numbers; floats equal to 1e-9."""
    if isinstance(committed, float) or isinstance(built, float):
        assert built == pytest.approx(committed, rel=1e-9, abs=1e-12), where
    elif isinstance(committed, dict):
        assert isinstance(built, dict) and built.keys() == committed.keys(), where
        for key, value in committed.items():
            assert_same_model(built[key], value, f"{where}.{key}")
    elif isinstance(committed, list):
        assert isinstance(built, list) and len(built) == len(committed), where
        for i, (b, c) in enumerate(zip(built, committed, strict=True)):
            assert_same_model(b, c, f"{where}[{i}]")
    else:
        assert built == committed, where


def test_the_committed_model_was_trained_on_this_corpus() -> None:
    model = default_text_model()
    assert model.meta["corpus_sha256"] == trainer().corpus_sha256()
    assert model.meta["script_version"] == trainer().SCRIPT_VERSION


def test_the_script_rebuilds_the_committed_file_and_pure_python_gives_sklearns_scores() -> None:
    pytest.importorskip("sklearn")
    train = trainer()
    reports = [r for name in train.FILES for r in train.load(name)]
    fitted = train.Fitted(reports)
    # The same file but for the last digits: the solver's floating-point sums differ from one CPU's vector
    # instructions to another's (~1e-12), and the model is not worse for it.
    assert_same_model(json.loads(train.model_file(fitted)), json.loads(read_rule_text("text_model.json")))
    model = default_text_model()
    ours = [score_texts(model, case_texts(*train.texts(r))).probability for r in reports]
    assert ours == pytest.approx(fitted.sklearn_probabilities(reports), abs=1e-9)


def test_folding_keeps_offsets_and_hides_the_digits() -> None:
    assert fold("ＡＢ12３人") == "ab000人"
    assert len(fold("İ①\u3000")) == 3


def test_a_red_the_rules_miss_is_raised_with_the_words_quoted() -> None:
    colour, reasons = grade(switched_on(), MISSED)
    assert colour == "red"
    first = reasons[0]
    assert first["rule_id"] == RULE_ID and first["inputs"]["kind"] == "model"  # type: ignore[index]
    assert first["inputs"]["from_colour"] == "blue"  # type: ignore[index]
    assert str(first["description_zh"]).startswith("文本与红色案例相近（“")
    assert str(first["description_zh"]).endswith("），请人工研判")
    (evidence,) = first["evidence"]  # type: ignore[misc]
    assert 2 <= len(evidence["spans"]) <= 4
    for span in evidence["spans"]:
        assert MISSED[span["start"] : span["end"]] == span["text"]  # quotes the description itself
    # The rules' own reason stays listed after it.
    assert [r["rule_id"] for r in reasons[1:]] == ["blue.default"]


def test_it_never_lowers_and_stays_quiet_on_a_plain_report() -> None:
    assessor = switched_on()
    colour, reasons = grade(assessor, "报警人称其丈夫喝酒后在家里摔东西，说要和她同归于尽")
    assert colour == "red" and all(r["rule_id"] != RULE_ID for r in reasons)
    colour, reasons = grade(assessor, "市民反映邻居家装修噪音大，希望协调")
    assert colour == "blue" and all(r["rule_id"] != RULE_ID for r in reasons)


def test_on_by_default_off_by_grading_yaml_and_nothing_without_a_model() -> None:
    # On by default since it no longer reads what the reader judges no fact (docs/decisions/0007).
    assert grade(Assessor.from_packaged_rules(), MISSED)[0] == "red"
    text = read_rule_text("grading.yaml")
    assert "text_model_enabled: true" in text
    off = Assessor(
        load_grading_rules(text.replace("text_model_enabled: true", "text_model_enabled: false")),
        default_classifier(),
        default_signal_reader(),
        default_text_model(),
    )
    assert grade(off, MISSED)[0] == "blue"
    none = Assessor(
        dataclasses.replace(default_grading_rules(), text_model_enabled=True),
        default_classifier(),
        default_signal_reader(),
        None,
    )
    assert grade(none, MISSED)[0] == "blue"
    with pytest.raises(DataFileError, match="text_model_enabled"):
        load_grading_rules(text.replace("text_model_enabled: true", "text_model_enabled: maybe"))


def test_a_re_grade_reads_the_notes_too() -> None:
    out = switched_on().grade_stored(
        category="other",
        people_involved=1,
        amount_yuan=None,
        flags=[],
        repeat_count=0,
        request_type="complaint",
        channel="hotline12345",
        title="工资",
        description="来电人称工地老板拖欠工资半年",
        notes=[(1, MISSED)],
    )
    assert out.colour == "red" and out.reasons[0]["rule_id"] == RULE_ID
    assert "note" in {span["source"] for span in out.reasons[0]["evidence"][0]["spans"]}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"version": 2}, "text_model.version"),
        ({"option": "purple"}, "text_model.option"),
        ({"red_threshold": 1.5}, "text_model.red_threshold"),
        ({"ngram_range": [3, 1]}, "text_model.ngram_range"),
        ({"weights": {"扬言": "high"}}, "text_model.weights"),
    ],
)
def test_a_faulty_model_file_is_refused_naming_the_field(change: dict[str, object], where: str) -> None:
    data = json.loads(read_rule_text("text_model.json"))
    data.update(change)
    with pytest.raises(DataFileError) as refused:
        load_text_model(json.dumps(data))
    assert refused.value.where == where
