"""The text model's second opinion on a graded case: it may raise the rules' colour, never lower it.

When the rules give less than red and the model (text_model.py) gives P(red) at or above its
threshold, the colour is raised (to red, or to orange with a request for review, as the model file
says) and the reason quotes the words that looked red, in the shape the rules' reasons have: a
FiredRule with `evidence`, its rule id `second_opinion.text_model` and `inputs.kind` "model", so a
dispatcher and the audit see it came from the model, not from a rule.

A bag of n-grams cannot read negation: "现场没有人扬言要从楼顶跳下去" looks red to it. So the model
scores only what the signal reader takes for fact: the clauses where the reader found risk words and
judged them no fact (negated, a supposition, refuted hearsay: `TextFacts.no_fact`) are blanked first,
one notion of negation for both.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.contracts.vocabulary import Colour

from .grading import Assessment, FiredRule, GradingRules
from .signal_evidence import Evidence, EvidenceSpan
from .signal_text import TextPart
from .text_model import TextModel, TextScore, red_probability, score_texts

RULE_ID = "second_opinion.text_model"
_RAISED_TO = {"red": Colour.red, "orange_review": Colour.orange}


def with_second_opinion(
    assessment: Assessment,
    parts: Sequence[TextPart],
    model: TextModel,
    rules: GradingRules,
    no_fact: Sequence[EvidenceSpan] = (),
) -> Assessment:
    """The assessment, raised by the model where it is sure enough of red; unchanged otherwise.
    `no_fact`: the spans the signal reader judged no fact (TextFacts.no_fact), which it does not read."""
    target = _RAISED_TO[model.option]
    if assessment.colour.severity >= target.severity:
        return assessment  # only ever raises: nothing to score
    parts = without(parts, no_fact)
    if red_probability(model, parts) < model.red_threshold:
        return assessment
    score = score_texts(model, parts)  # again, with the words behind it: only for a report it raises
    reason = FiredRule(
        rule_id=RULE_ID,
        colour=target,
        description_zh=_description(score),
        inputs={
            "kind": "model",
            "p_red": round(score.probability, 3),
            "threshold": model.red_threshold,
            "from_colour": assessment.colour.value,
            "model": str(model.meta.get("corpus_sha256", ""))[:12],
        },
        evidence=[_evidence(score)] if score.spans else [],
    )
    return Assessment(
        colour=target,
        reasons=[reason, *assessment.reasons],
        response_level=rules.response_level_for(target),
    )


def without(parts: Sequence[TextPart], spans: Sequence[EvidenceSpan]) -> list[TextPart]:
    """The parts with the spans blanked, one space for each character: offsets (and so the quotes)
    stay the text's own, and no n-gram spans a blank."""
    out = list(parts)
    for i, part in enumerate(parts):
        mine = [s for s in spans if s.source == part.source and s.note_no == part.note_no]
        if mine:
            chars = list(part.text)
            for span in mine:
                chars[span.start : span.end] = " " * (span.end - span.start)
            out[i] = TextPart(part.source, "".join(chars), part.note_no)
    return out


def _description(score: TextScore) -> str:
    words = f"（{score.quote}）" if score.spans else ""
    return f"文本与红色案例相近{words}，请人工研判"


def _evidence(score: TextScore) -> Evidence:
    return Evidence(
        fact="text_model",
        value=f"{score.probability:.3f}",
        signal=RULE_ID,
        quote="…".join(span.text for span in score.spans),
        spans=list(score.spans),
        reason_zh=f"统计模型：文本与红色案例相近（红色概率 {score.probability:.2f}），请人工研判",
    )
