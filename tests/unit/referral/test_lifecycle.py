"""Case and referral state machines: every allowed transition, every refused one, progress ranks."""

from __future__ import annotations

import itertools

import pytest

from services.referral.domain import lifecycle
from services.referral.domain.codes import Satisfaction
from services.referral.domain.lifecycle import (
    CASE_MACHINE,
    REFERRAL_MACHINE,
    CaseAction,
    CaseState,
    ReferralAction,
    ReferralState,
    ReferralStatus,
    TransitionRefused,
    apply_referral,
    cancels_open_referrals,
    rating_action,
    referral_allowed_actions,
)

# The graphs of RULES.md, written out independently of the module's tables (double entry).
_OPEN_EXITS = {"merge": "merged", "withdraw": "withdrawn"}
_UNANSWERED = {**_OPEN_EXITS, "return_to_channel": "returned_to_channel"}  # 回退 until the lead replied
CASE_GRAPH: dict[str, dict[str, str]] = {
    "registered": {"dispatch": "dispatched", "resolve_at_window": "closed", **_UNANSWERED},
    "dispatched": {"start": "in_progress", "dispatch": "dispatched", **_UNANSWERED},
    "in_progress": {"reply_received": "replied", "dispatch": "dispatched", **_UNANSWERED},
    "replied": {"callback_requested": "callback", "close": "closed", "reopen": "reopened", **_OPEN_EXITS},
    "callback": {
        "rate_satisfied": "closed",
        "rate_basically_satisfied": "closed",
        "rate_dissatisfied": "reopened",
        "close": "closed",
        "reopen": "reopened",
        **_OPEN_EXITS,
    },
    "reopened": {"dispatch": "dispatched", **_OPEN_EXITS},
    "closed": {},
    "merged": {},
    "withdrawn": {},
    "returned_to_channel": {},
}
REFERRAL_GRAPH: dict[str, dict[str, str]] = {
    "created": {"dispatch": "dispatched", "cancel": "cancelled"},
    "dispatched": {"acknowledge": "acknowledged", "return": "returned", "cancel": "cancelled"},
    "acknowledged": {
        "start": "in_progress",
        "request_extension": "extension_requested",
        "reply": "replied",
        "return": "returned",
        "cancel": "cancelled",
    },
    "in_progress": {
        "suspend": "in_progress",
        "resume": "in_progress",
        "request_extension": "extension_requested",
        "reply": "replied",
        "return": "returned",
        "cancel": "cancelled",
    },
    "extension_requested": {
        "approve_extension": "in_progress",
        "deny_extension": "in_progress",
        "suspend": "extension_requested",
        "resume": "extension_requested",
        "reply": "replied",
        "cancel": "cancelled",
    },
    "replied": {},
    "returned": {},
    "cancelled": {},
}

CASE_PAIRS = list(itertools.product(CaseState, CaseAction))
REFERRAL_PAIRS = list(itertools.product(ReferralState, ReferralAction))


def test_the_graphs_cover_every_state() -> None:
    assert set(CASE_GRAPH) == {s.value for s in CaseState}
    assert set(REFERRAL_GRAPH) == {s.value for s in ReferralState}


@pytest.mark.parametrize(("state", "action"), CASE_PAIRS, ids=lambda x: str(x))
def test_case_transition(state: CaseState, action: CaseAction) -> None:
    expected = CASE_GRAPH[state.value].get(action.value)
    if expected is None:
        with pytest.raises(TransitionRefused) as caught:
            lifecycle.apply(state, action.value)
        refused = caught.value
        assert (refused.machine, refused.current_state, refused.action) == ("case", state.value, action.value)
        assert refused.allowed_actions == list(CASE_GRAPH[state.value])
    else:
        assert lifecycle.apply(state, action.value) == CaseState(expected)


@pytest.mark.parametrize(("state", "action"), REFERRAL_PAIRS, ids=lambda x: str(x))
def test_referral_transition(state: ReferralState, action: ReferralAction) -> None:
    expected = REFERRAL_GRAPH[state.value].get(action.value)
    if expected is None:
        with pytest.raises(TransitionRefused) as caught:
            lifecycle.apply(state, action.value)
        refused = caught.value
        assert (refused.machine, refused.current_state, refused.action) == (
            "referral",
            state.value,
            action.value,
        )
        assert refused.allowed_actions == list(REFERRAL_GRAPH[state.value])
    else:
        assert lifecycle.apply(state, action.value) == ReferralState(expected)


@pytest.mark.parametrize(
    "state", list(CaseState) + list(ReferralState), ids=lambda s: f"{type(s).__name__}.{s}"
)
def test_allowed_actions_match_the_graph(state: CaseState | ReferralState) -> None:
    graph = CASE_GRAPH if isinstance(state, CaseState) else REFERRAL_GRAPH
    assert lifecycle.allowed_actions(state) == list(graph[state.value])


def test_refusal_message_names_the_state_and_the_allowed_actions() -> None:
    with pytest.raises(TransitionRefused) as caught:
        lifecycle.apply(CaseState.dispatched, "close")
    assert str(caught.value) == (
        "case in state 'dispatched' cannot 'close'; allowed actions: start, dispatch, merge, withdraw, return_to_channel"
    )
    with pytest.raises(TransitionRefused, match=r"allowed actions: none \(final state\)"):
        lifecycle.apply(ReferralState.replied, "reply")
    with pytest.raises(TransitionRefused, match="cannot 'fly'"):
        lifecycle.apply(ReferralState.dispatched, "fly")


def test_the_same_name_means_different_machines() -> None:
    # "dispatched" exists in both machines; the enum type chooses.
    assert lifecycle.apply(CaseState.dispatched, "start") is CaseState.in_progress
    assert lifecycle.apply(ReferralState.dispatched, "acknowledge") is ReferralState.acknowledged
    with pytest.raises(TypeError, match="CaseState"):
        lifecycle.apply("dispatched", "start")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        lifecycle.is_regression(CaseState.dispatched, ReferralState.created)
    with pytest.raises(ValueError, match="unknown case state"):
        CASE_MACHINE.apply("lost", "start")


def test_full_case_round_with_a_reopen() -> None:
    state = CaseState.registered
    for action in [
        "dispatch",
        "start",
        "reply_received",
        "callback_requested",
        "rate_dissatisfied",
        "dispatch",
        "start",
        "reply_received",
        "callback_requested",
        "rate_basically_satisfied",
    ]:
        state = CASE_MACHINE.apply(state, action)
    assert state is CaseState.closed
    assert CASE_MACHINE.is_final(state) and cancels_open_referrals(state)
    assert not cancels_open_referrals(CaseState.replied)


def test_rating_actions() -> None:
    assert rating_action(Satisfaction.satisfied) is CaseAction.rate_satisfied
    assert rating_action("basically_satisfied") is CaseAction.rate_basically_satisfied
    assert CASE_MACHINE.apply(CaseState.callback, rating_action("dissatisfied")) is CaseState.reopened


# --- progress ranks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "proposed", "regression"),
    [
        (ReferralState.in_progress, ReferralState.acknowledged, True),  # a re-sent "acknowledged"
        (ReferralState.replied, ReferralState.in_progress, True),
        (ReferralState.extension_requested, ReferralState.in_progress, True),  # a late "start"
        (ReferralState.cancelled, ReferralState.replied, True),
        (ReferralState.acknowledged, ReferralState.acknowledged, False),  # a repeat, not backwards
        (ReferralState.dispatched, ReferralState.replied, False),
        (CaseState.callback, CaseState.replied, True),
        (CaseState.reopened, CaseState.callback, True),  # the previous round's callback, arriving late
        (CaseState.closed, CaseState.reopened, True),
        (CaseState.in_progress, CaseState.replied, False),
        (CaseState.callback, CaseState.closed, False),
    ],
)
def test_is_regression(
    current: CaseState | ReferralState, proposed: CaseState | ReferralState, regression: bool
) -> None:
    assert lifecycle.is_regression(current, proposed) is regression


DEPARTMENT_ACTIONS = {"acknowledge", "start", "reply", "return", "request_extension"}
EXTERNAL_CASE_ACTIONS = {
    "start",
    "reply_received",
    "callback_requested",
    "rate_satisfied",
    "rate_basically_satisfied",
    "rate_dissatisfied",
    "withdraw",
}


def test_external_updates_only_move_forward() -> None:
    """Every transition an outside system can drive raises the rank, so stale updates are detectable."""
    for machine, graph, external in (
        (REFERRAL_MACHINE, REFERRAL_GRAPH, DEPARTMENT_ACTIONS),
        (CASE_MACHINE, CASE_GRAPH, EXTERNAL_CASE_ACTIONS),
    ):
        for state, row in graph.items():
            for action, target in row.items():
                if action in external:
                    assert machine.rank(target) > machine.rank(state), (state, action)


# --- suspension flag ----------------------------------------------------------------------------------


def test_suspend_and_resume_toggle_the_flag() -> None:
    running = ReferralStatus(ReferralState.in_progress)
    assert "suspend" in referral_allowed_actions(running) and "resume" not in referral_allowed_actions(
        running
    )
    suspended = apply_referral(running, "suspend")
    assert suspended == ReferralStatus(ReferralState.in_progress, suspended=True)
    assert "resume" in referral_allowed_actions(suspended) and "suspend" not in referral_allowed_actions(
        suspended
    )
    with pytest.raises(TransitionRefused) as caught:
        apply_referral(suspended, "suspend")
    assert caught.value.current_state == "in_progress (suspended)"
    assert apply_referral(suspended, ReferralAction.resume) == running
    with pytest.raises(TransitionRefused):
        apply_referral(running, "resume")


def test_suspension_survives_an_extension_request_and_ends_with_the_reply() -> None:
    suspended = apply_referral(ReferralStatus(ReferralState.in_progress), "suspend")
    waiting = apply_referral(suspended, "request_extension")
    assert waiting == ReferralStatus(ReferralState.extension_requested, suspended=True)
    assert apply_referral(waiting, "reply") == ReferralStatus(ReferralState.replied, suspended=False)
    with pytest.raises(TransitionRefused):
        apply_referral(ReferralStatus(ReferralState.acknowledged), "suspend")
