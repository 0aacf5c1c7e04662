"""Grading accuracy measured on a labelled corpus of free-text reports (tests/data/grading_corpus).

Each report is graded exactly as intake grades a text-only report at registration: title and
description (a 12345 work order without a title gets the first 30 characters of its content, as the
adapter's mapping gives it), its channel and request type, nothing structured, no earlier reports;
the category from the classifier; through `Assessor.grade` with the packaged rules.

Development is `dev.yaml`, `heldout.yaml` and `heldout2.yaml` (the first and second held-out splits,
each retired once it had been measured several times): the rules are tuned on them and their
misclassified reports are listed. The held-out split is `heldout3.yaml`, written by someone who never
read the rules, when it is present: only its figures are shown (no ids, no texts, no report in an assertion message: reading
them would spend it). Figures are printed (pytest -s) and written to
test-artifacts/grading-accuracy.txt. The test fails when red recall is below 0.95 or accuracy below
0.85 on development; the held-out and whole-corpus figures are reported as they are.

Two graders are measured: the rules alone, and the rules with the text model's second opinion (what
intake runs when grading.yaml's `text_model_enabled` is true, on by default; rules/text_model.json),
measured here with it switched on. Both are gated
on development. The model was trained on the development files, so its development figures say only
that it does not spoil them; its writer-shift figures are in docs/decisions/0007-second-opinion.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from services.intake.assessment import Assessor
from services.intake.domain.classifier import default_classifier
from services.intake.domain.grading import default_grading_rules
from services.intake.domain.model import CaseIn
from services.intake.domain.signals import default_signal_reader
from services.intake.domain.text_model import default_text_model

ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))
CORPUS = Path(__file__).resolve().parents[2] / "data" / "grading_corpus"
# heldout.yaml and heldout2.yaml were each retired into development once they had been measured
DEVELOPMENT = ("dev.yaml", "heldout.yaml", "heldout2.yaml")
HELD_OUT = "heldout3.yaml"  # measured only; absent until its author delivers it
COLOURS = ("red", "orange", "yellow", "blue")
MIN_RED_RECALL = 0.95
MIN_ACCURACY = 0.85
ADAPTER_TITLE_CHARS = 30  # gateway/adapters/hotline12345/mapping.py: `order.title or order.content[:30]`


def load(name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    reports: list[dict[str, Any]] = data["reports"]
    return reports


def graded_colour(assessor: Assessor, report: dict[str, Any]) -> str:
    """The colour intake gives the report at registration, from its words alone."""
    title = report["title"] or report["description"][:ADAPTER_TITLE_CHARS]
    case_in = CaseIn.model_validate(
        {
            "channel": report["channel"],
            "request_type": report["request_type"],
            "title": title,
            "description": report["description"],
            "reporter": {"anonymous": True},
            "location": {"address": "（未提供地址）"},
        }
    )
    category, _ = assessor.classify(case_in.title, case_in.description)
    return assessor.grade(case_in, category, 0).colour


@dataclass
class Measure:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)  # (label, graded) -> reports
    # Misclassified reports, kept for development only; never shown in a repr (a failed assertion
    # prints one).
    wrong: list[tuple[dict[str, Any], str]] = field(default_factory=list, repr=False)
    keep_wrong: bool = True

    def add(self, report: dict[str, Any], graded: str) -> None:
        self.confusion[(report["colour"], graded)] += 1
        if graded != report["colour"] and self.keep_wrong:
            self.wrong.append((report, graded))

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def accuracy(self) -> float:
        return sum(self.confusion[(c, c)] for c in COLOURS) / self.total

    def precision(self, colour: str) -> float:
        graded = sum(self.confusion[(label, colour)] for label in COLOURS)
        return self.confusion[(colour, colour)] / graded if graded else 0.0

    def recall(self, colour: str) -> float:
        labelled = sum(self.confusion[(colour, graded)] for graded in COLOURS)
        return self.confusion[(colour, colour)] / labelled if labelled else 0.0

    def render(self, name: str, *, show_wrong: bool) -> list[str]:
        lines = [f"{name}: {self.total} reports, accuracy {self.accuracy:.3f}"]
        lines += [
            f"  {c:<6} precision {self.precision(c):.3f}  recall {self.recall(c):.3f}"
            f"  ({sum(self.confusion[(c, g)] for g in COLOURS)} labelled)"
            for c in COLOURS
        ]
        lines.append("  confusion (rows: label, columns: graded)")
        lines.append("  " + " " * 8 + "".join(f"{c:>8}" for c in COLOURS))
        lines += [
            "  " + f"{c:<8}" + "".join(f"{self.confusion[(c, g)]:>8}" for g in COLOURS) for c in COLOURS
        ]
        if show_wrong:
            lines.append(f"  misclassified ({len(self.wrong)}):")
            lines += [
                f"    {r['id']} label {r['colour']} graded {g}: {r['title']} | {r['description']}"
                for r, g in self.wrong
            ]
        return lines


def measure(assessor: Assessor, reports: list[dict[str, Any]], *, keep_wrong: bool) -> Measure:
    result = Measure(keep_wrong=keep_wrong)
    for report in reports:
        try:
            graded = graded_colour(assessor, report)
        except Exception as exc:
            if keep_wrong:
                raise
            # A validation error would quote the report; say only what kind of error it was.
            raise AssertionError(f"a held-out report could not be graded ({type(exc).__name__})") from None
        result.add(report, graded)
    return result


def rules_alone() -> Assessor:
    return Assessor(default_grading_rules(), default_classifier(), default_signal_reader(), None)


def measured(assessor: Assessor, label: str) -> tuple[Measure, Measure, list[str]]:
    """Development's figures, the whole corpus's, and the lines that report them (held-out too)."""
    development = measure(assessor, [r for name in DEVELOPMENT for r in load(name)], keep_wrong=True)
    lines = development.render(
        f"{label}: development ({' + '.join(DEVELOPMENT)}; tuned on it)", show_wrong=True
    )
    whole = Measure(confusion=Counter(development.confusion), keep_wrong=False)
    if (CORPUS / HELD_OUT).exists():
        heldout = measure(assessor, load(HELD_OUT), keep_wrong=False)
        lines += heldout.render(f"{label}: held-out ({HELD_OUT}; never read; figures only)", show_wrong=False)
        whole.confusion.update(heldout.confusion)
        lines += whole.render(f"{label}: whole corpus (development + held-out)", show_wrong=False)
    else:
        lines.append(f"{label}: held-out: {HELD_OUT} not present, not measured")
    return development, whole, lines


def test_grading_accuracy_on_the_labelled_corpus() -> None:
    combined = Assessor(
        dataclasses.replace(default_grading_rules(), text_model_enabled=True),
        default_classifier(),
        default_signal_reader(),
        default_text_model(),
    )
    lines = ["four-colour grading of text-only reports (title + description, nothing structured)"]
    gated = []
    for label, assessor in (("rules", rules_alone()), ("rules + second opinion", combined)):
        development, whole, measured_lines = measured(assessor, label)
        lines += measured_lines
        gated.append((development, whole))
    report = "\n".join(lines)
    print("\n" + report)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "grading-accuracy.txt").write_text(report + "\n", encoding="utf-8")

    for development, _whole in gated:
        # Plain numbers in the assertion: pytest shows their operands, and the message is development's
        # figures and misclassified reports (no held-out report is ever kept).
        red_recall, accuracy = development.recall("red"), development.accuracy
        assert red_recall >= MIN_RED_RECALL and accuracy >= MIN_ACCURACY, report
    # The held-out split and the whole corpus are reported, not gated: a gate that includes the held-out
    # split would be tuned against sooner or later, and a fresh split is exactly where the rules fall
    # short (heldout3 measured once at 0.750 red recall, 2026-12-05: see the corpus README).
