"""The text model's second opinion on a graded case: it may raise the rules' colour, never lower it.

When the rules give less than red and the model (text_model.py) gives P(red) at or above its
threshold, the colour is raised (to red, or to orange with a request for review, as the model file
says) and the reason quotes the words that looked red, in the shape the rules' reasons have: a
FiredRule with `evidence`, its rule id `second_opinion.text_model` and `inputs.kind` "model", so a
dispatcher and the audit see it came from the model, not from a rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.contracts.vocabulary import Colour

from .grading import Assessment, FiredRule, GradingRules
from .signal_evidence import Evidence
from .signal_text import TextPart
from .text_model import TextModel, TextScore, red_probability, score_texts

RULE_ID = "second_opinion.text_model"
_RAISED_TO = {"red": Colour.red, "orange_review": Colour.orange}


def with_second_opinion(
    assessment: Assessment, parts: Sequence[TextPart], model: TextModel, rules: GradingRules
) -> Assessment:
    """The assessment, raised by the model where it is sure enough of red; unchanged otherwise."""
    target = _RAISED_TO[model.option]
    if assessment.colour.severity >= target.severity:
        return assessment  # only ever raises: nothing to score
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
