"""Loading intake's rule files (packaged, or from HUB_INTAKE_RULES_DIR) into a new Assessor.

A file found in the rules directory replaces the packaged one of the same name; a file absent there
comes from the package (the response and the audit entry say which file came from where). Errors
name the file and the position: line and column from the YAML parser, or for a rule that parses but
is wrong, the line of the entry the rule-file path points at (e.g. `rules[3].colour`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.datafile import DataFileError
from services.intake.assessment import Assessor
from services.intake.domain.classifier import KeywordClassifier, load_classifier_rules
from services.intake.domain.grading import load_grading_rules
from services.intake.domain.key_persons import load_key_person_scheme
from services.intake.domain.resources import read_rule_text
from services.intake.domain.signals import SignalReader, load_signal_rules
from services.intake.domain.text_model import load_text_model

GRADING = "grading.yaml"
CLASSIFIER = "classifier.yaml"
SIGNALS = "signals.yaml"
TEXT_MODEL = "text_model.json"  # the second opinion's weights (scripts/train-text-model)
KEY_PERSONS = "key_persons.yaml"  # the key persons registry's colour scheme (重点人员 / 七色户卡)
RULE_FILES = (GRADING, CLASSIFIER, SIGNALS, TEXT_MODEL, KEY_PERSONS)


@dataclass(frozen=True)
class RuleSource:
    name: str
    origin: str  # "packaged" or the file's path
    sha256: str


class RulesInvalid(Exception):
    def __init__(
        self, file: str, problem: str, *, where: str = "", line: int | None = None, column: int | None = None
    ) -> None:
        self.file = file
        self.problem = problem
        self.where = where
        self.line = line
        self.column = column
        super().__init__(self.describe())

    def describe(self) -> str:
        position = f" line {self.line}" if self.line else ""
        position += f" column {self.column}" if self.line and self.column else ""
        where = f" ({self.where})" if self.where else ""
        return f"{self.file}{position}{where}: {self.problem}"


def load_assessor(rules_dir: Path | None) -> tuple[Assessor, list[RuleSource]]:
    """Read, parse and validate every rule file; raise RulesInvalid (nothing is swapped) on the first fault."""
    if rules_dir is not None and not rules_dir.is_dir():
        raise RulesInvalid(str(rules_dir), "rules directory not found")
    texts: dict[str, tuple[str, str]] = {}
    for name in RULE_FILES:
        path = rules_dir / name if rules_dir is not None else None
        if path is not None and path.exists():
            try:
                texts[name] = (path.read_text(encoding="utf-8"), str(path))
            except (OSError, UnicodeDecodeError) as exc:
                raise RulesInvalid(str(path), f"cannot read the file ({type(exc).__name__})") from None
        else:
            texts[name] = (read_rule_text(name), "packaged")
    grading_text, grading_origin = texts[GRADING]
    classifier_text, classifier_origin = texts[CLASSIFIER]
    grading = _parse(GRADING, grading_origin, grading_text, load_grading_rules)
    classifier = KeywordClassifier(
        _parse(CLASSIFIER, classifier_origin, classifier_text, load_classifier_rules)
    )
    signals_text, signals_origin = texts[SIGNALS]
    signals = SignalReader(_parse(SIGNALS, signals_origin, signals_text, load_signal_rules))
    model_text, model_origin = texts[TEXT_MODEL]
    text_model = _parse(TEXT_MODEL, model_origin, model_text, load_text_model)
    scheme_text, scheme_origin = texts[KEY_PERSONS]
    scheme = _parse(KEY_PERSONS, scheme_origin, scheme_text, load_key_person_scheme)
    sources = [
        RuleSource(name, origin, hashlib.sha256(text.encode("utf-8")).hexdigest())
        for name, (text, origin) in texts.items()
    ]
    return Assessor(grading, classifier, signals, text_model, key_persons=scheme), sources


def _parse(name: str, origin: str, text: str, loader: Any) -> Any:
    shown = name if origin == "packaged" else origin
    try:
        return loader(text)
    except DataFileError as exc:
        line, column = exc.position(text)
        raise RulesInvalid(shown, exc.problem, where=exc.where, line=line, column=column) from None
