"""Loading rule files from the package or a directory, and errors that say where the file is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.datafile import locate
from services.intake.domain.resources import read_rule_text
from services.intake.rulebook import (
    CLASSIFIER,
    GRADING,
    KEY_PERSONS,
    SIGNALS,
    TEXT_MODEL,
    RulesInvalid,
    load_assessor,
)

GRADING_TEXT = read_rule_text(GRADING)


def test_packaged_rules_load() -> None:
    assessor, sources = load_assessor(None)
    assert {s.name: s.origin for s in sources} == {
        GRADING: "packaged",
        CLASSIFIER: "packaged",
        SIGNALS: "packaged",
        TEXT_MODEL: "packaged",
        KEY_PERSONS: "packaged",
    }
    assert assessor.response_level_for("red") == "joint_consultation"
    assert assessor.text_model is not None


def test_a_faulty_text_model_in_the_rules_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / TEXT_MODEL).write_text(
        read_rule_text(TEXT_MODEL).replace('"option": "red"', '"option": "purple"'), "utf-8"
    )
    with pytest.raises(RulesInvalid) as refused:
        load_assessor(tmp_path)
    assert refused.value.file == str(tmp_path / TEXT_MODEL)
    assert refused.value.where == "text_model.option"


def test_a_file_in_the_rules_directory_replaces_the_packaged_one(tmp_path: Path) -> None:
    (tmp_path / GRADING).write_text(
        GRADING_TEXT.replace("red: joint_consultation", "red: time_limited"), "utf-8"
    )
    assessor, sources = load_assessor(tmp_path)
    assert {s.name: s.origin for s in sources} == {
        GRADING: str(tmp_path / GRADING),
        CLASSIFIER: "packaged",
        SIGNALS: "packaged",
        TEXT_MODEL: "packaged",
        KEY_PERSONS: "packaged",
    }
    assert assessor.response_level_for("red") == "time_limited"


def test_a_wrong_rule_is_named_with_its_line(tmp_path: Path) -> None:
    lines = GRADING_TEXT.splitlines()
    at = next(i for i, line in enumerate(lines) if "colour: orange" in line)
    lines[at] = lines[at].replace("orange", "purple")
    (tmp_path / GRADING).write_text("\n".join(lines), "utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_assessor(tmp_path)
    error = caught.value
    assert error.file == str(tmp_path / GRADING) and error.line == at + 1 and error.column is not None
    assert error.where.startswith("rules[") and error.where.endswith(".colour")
    assert "purple" in error.problem and f"line {at + 1}" in error.describe()


def test_a_yaml_syntax_error_has_the_parsers_position(tmp_path: Path) -> None:
    (tmp_path / CLASSIFIER).write_text("version: 1\ncategories:\n  noise: {噪音: 3\n", "utf-8")
    with pytest.raises(RulesInvalid) as caught:
        load_assessor(tmp_path)
    assert caught.value.file.endswith(CLASSIFIER) and caught.value.line == 4


def test_a_missing_directory_is_an_error_not_the_packaged_rules(tmp_path: Path) -> None:
    with pytest.raises(RulesInvalid, match="not found"):
        load_assessor(tmp_path / "nowhere")


def test_locate_walks_rule_paths() -> None:
    text = "version: 1\nrules:\n  - id: a\n    when: {all: [{flag: x}, {field: y, op: '>', value: 1}]}\n"
    assert locate(text, "rules[0].id") == (3, 9)
    assert locate(text, "rules[0].when.all[1].op")[0] == 4
    assert locate(text, "grading.version") == (1, 10)  # the file's own label is skipped
    assert locate(text, "rules[5].id") == (3, 3)  # as deep as the path exists: the list
    assert locate("{", "x") == (None, None)
