"""The case and referral state machines of RULES.md, as explicit transition tables.

Anything not in a table is refused with :class:`TransitionRefused`, which names the current state and
the allowed actions (the API turns it into HTTP 409).

Progress ranks guard against late or repeated *external* updates (a department system re-sending
"acknowledged", a 12345 rating arriving twice): :func:`is_regression` says the proposed state lies
behind the current one, and the update is then ignored rather than applied. Centre commands that
legitimately go back (re-routing a case after its lead returned it, dispatching a reopened case,
deciding an extension request) are applied with :func:`apply` and never consult the ranks.

Interpretations of the RULES.md graphs:
- a case's satisfied or basically satisfied rating closes it (callback → closed); ``close`` covers a
  reply that cannot be called back (anonymous reporter) or a callback that gets no answer; a
  dissatisfied rating, or a centre ``reopen`` (e.g. 12345 reports dissatisfaction), reopens it;
- merge and withdraw are possible from every open case state; closed, merged and withdrawn are final;
- return to the channel (回退: the centre decides a case from 12345 is not the hub's) is possible until
  the lead has replied (registered, dispatched, in progress); returned_to_channel is final;
- a referral may be returned after acknowledging too (the 2-working-day window, enforced by
  ``deadlines.can_return``, outlasts a red case's 30-minute acknowledgement); returned, replied and
  cancelled are final (the centre re-routes with a new referral);
- suspension (the clock waits on the citizen) is a flag beside the state, not a state: ``suspend`` and
  ``resume`` keep the state and toggle the flag (see :func:`apply_referral`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from .codes import Satisfaction


class CaseState(StrEnum):
    registered = "registered"
    dispatched = "dispatched"
    in_progress = "in_progress"
    replied = "replied"
    callback = "callback"
    closed = "closed"
    merged = "merged"
    withdrawn = "withdrawn"
    reopened = "reopened"
    returned_to_channel = "returned_to_channel"  # 回退: given back to the channel it came from


class CaseAction(StrEnum):
    dispatch = "dispatch"  # also re-route after the lead returned the referral
    resolve_at_window = "resolve_at_window"  # 即时办结 at the intake window
    start = "start"  # the lead department acknowledged
    reply_received = "reply_received"  # the lead department replied
    callback_requested = "callback_requested"  # 回访 started (SMS or staff)
    rate_satisfied = "rate_satisfied"
    rate_basically_satisfied = "rate_basically_satisfied"
    rate_dissatisfied = "rate_dissatisfied"
    close = "close"  # 销号 without a rating
    reopen = "reopen"
    merge = "merge"
    withdraw = "withdraw"
    return_to_channel = "return_to_channel"  # 回退 (the centre: not ours; 12345 re-assigns it)


class ReferralState(StrEnum):
    created = "created"
    dispatched = "dispatched"
    acknowledged = "acknowledged"
    in_progress = "in_progress"
    extension_requested = "extension_requested"
    replied = "replied"
    returned = "returned"
    cancelled = "cancelled"


class ReferralAction(StrEnum):
    dispatch = "dispatch"  # 吹哨
    acknowledge = "acknowledge"  # 报到/签收
    start = "start"
    suspend = "suspend"  # waiting on the citizen: the clock stops
    resume = "resume"
    request_extension = "request_extension"
    approve_extension = "approve_extension"
    deny_extension = "deny_extension"
    reply = "reply"
    return_ = "return"  # 退回 (``return`` is a Python keyword)
    cancel = "cancel"  # the case was closed, merged or withdrawn


S = TypeVar("S", bound=StrEnum)
A = TypeVar("A", bound=StrEnum)


class TransitionRefused(Exception):
    """An action that the state machine does not allow in the current state."""

    def __init__(self, machine: str, current_state: str, action: str, allowed_actions: list[str]) -> None:
        allowed = ", ".join(allowed_actions) if allowed_actions else "none (final state)"
        super().__init__(
            f"{machine} in state {current_state!r} cannot {action!r}; allowed actions: {allowed}"
        )
        self.machine = machine
        self.current_state = current_state
        self.action = action
        self.allowed_actions = allowed_actions


@dataclass(frozen=True)
class StateMachine(Generic[S, A]):
    name: str
    states: type[S]
    actions: type[A]
    transitions: Mapping[S, Mapping[A, S]]
    ranks: Mapping[S, int]

    def __post_init__(self) -> None:
        # The tables are hand-written: fail at import if one forgets a state or leaves the enum.
        if set(self.transitions) != set(self.states) or set(self.ranks) != set(self.states):
            raise ValueError(f"{self.name}: every state needs a transition row and a rank")
        for row in self.transitions.values():
            if not set(row.values()) <= set(self.states):
                raise ValueError(f"{self.name}: a transition targets an unknown state")

    def state(self, value: str) -> S:
        try:
            return self.states(value)
        except ValueError:
            raise ValueError(f"unknown {self.name} state {value!r}") from None

    def allowed_actions(self, state: S | str) -> list[A]:
        return list(self.transitions[self.state(state)])

    def is_final(self, state: S | str) -> bool:
        return not self.transitions[self.state(state)]

    def apply(self, state: S | str, action: A | str) -> S:
        current = self.state(state)
        row = self.transitions[current]
        for candidate, target in row.items():
            if candidate == action:
                return target
        raise TransitionRefused(self.name, current.value, str(action), [a.value for a in row])

    def rank(self, state: S | str) -> int:
        return self.ranks[self.state(state)]

    def is_regression(self, current: S | str, proposed: S | str) -> bool:
        """True when ``proposed`` lies behind ``current``: a stale external update to ignore."""
        return self.rank(proposed) < self.rank(current)


_C, _CA = CaseState, CaseAction
_OPEN_CASE_EXITS = {_CA.merge: _C.merged, _CA.withdraw: _C.withdrawn}
_UNANSWERED_EXITS = {**_OPEN_CASE_EXITS, _CA.return_to_channel: _C.returned_to_channel}

CASE_MACHINE: StateMachine[CaseState, CaseAction] = StateMachine(
    name="case",
    states=CaseState,
    actions=CaseAction,
    transitions={
        _C.registered: {_CA.dispatch: _C.dispatched, _CA.resolve_at_window: _C.closed, **_UNANSWERED_EXITS},
        _C.dispatched: {_CA.start: _C.in_progress, _CA.dispatch: _C.dispatched, **_UNANSWERED_EXITS},
        _C.in_progress: {_CA.reply_received: _C.replied, _CA.dispatch: _C.dispatched, **_UNANSWERED_EXITS},
        _C.replied: {
            _CA.callback_requested: _C.callback,
            _CA.close: _C.closed,
            _CA.reopen: _C.reopened,
            **_OPEN_CASE_EXITS,
        },
        _C.callback: {
            _CA.rate_satisfied: _C.closed,
            _CA.rate_basically_satisfied: _C.closed,
            _CA.rate_dissatisfied: _C.reopened,
            _CA.close: _C.closed,
            _CA.reopen: _C.reopened,
            **_OPEN_CASE_EXITS,
        },
        _C.reopened: {_CA.dispatch: _C.dispatched, **_OPEN_CASE_EXITS},
        _C.closed: {},
        _C.merged: {},
        _C.withdrawn: {},
        _C.returned_to_channel: {},
    },
    # reopened ranks above callback: a rating or reply from the previous round arriving after a
    # reopen is stale. Final states share the top rank.
    ranks={
        _C.registered: 0,
        _C.dispatched: 1,
        _C.in_progress: 2,
        _C.replied: 3,
        _C.callback: 4,
        _C.reopened: 5,
        _C.closed: 6,
        _C.merged: 6,
        _C.withdrawn: 6,
        _C.returned_to_channel: 6,
    },
)

_R, _RA = ReferralState, ReferralAction
_SUSPENSION = {_RA.suspend: _R.in_progress, _RA.resume: _R.in_progress}

REFERRAL_MACHINE: StateMachine[ReferralState, ReferralAction] = StateMachine(
    name="referral",
    states=ReferralState,
    actions=ReferralAction,
    transitions={
        _R.created: {_RA.dispatch: _R.dispatched, _RA.cancel: _R.cancelled},
        _R.dispatched: {_RA.acknowledge: _R.acknowledged, _RA.return_: _R.returned, _RA.cancel: _R.cancelled},
        _R.acknowledged: {
            _RA.start: _R.in_progress,
            _RA.request_extension: _R.extension_requested,
            _RA.reply: _R.replied,
            _RA.return_: _R.returned,
            _RA.cancel: _R.cancelled,
        },
        _R.in_progress: {
            **_SUSPENSION,
            _RA.request_extension: _R.extension_requested,
            _RA.reply: _R.replied,
            _RA.return_: _R.returned,
            _RA.cancel: _R.cancelled,
        },
        _R.extension_requested: {
            _RA.approve_extension: _R.in_progress,
            _RA.deny_extension: _R.in_progress,
            _RA.suspend: _R.extension_requested,
            _RA.resume: _R.extension_requested,
            _RA.reply: _R.replied,
            _RA.cancel: _R.cancelled,
        },
        _R.replied: {},
        _R.returned: {},
        _R.cancelled: {},
    },
    ranks={
        _R.created: 0,
        _R.dispatched: 1,
        _R.acknowledged: 2,
        _R.in_progress: 3,
        _R.extension_requested: 4,
        _R.replied: 5,
        _R.returned: 5,
        _R.cancelled: 6,
    },
)


# --- state-typed conveniences: the enum type picks the machine (the two share state names) ----------


def allowed_actions(state: CaseState | ReferralState) -> list[str]:
    return [a.value for a in _machine_for(state).allowed_actions(state)]


def apply(state: CaseState | ReferralState, action: str) -> CaseState | ReferralState:
    if isinstance(state, CaseState):
        return CASE_MACHINE.apply(state, action)
    if isinstance(state, ReferralState):
        return REFERRAL_MACHINE.apply(state, action)
    raise _not_typed(state)


def is_regression(current: CaseState | ReferralState, proposed: CaseState | ReferralState) -> bool:
    if type(current) is not type(proposed):
        raise TypeError(f"cannot compare {type(current).__name__} with {type(proposed).__name__}")
    return _machine_for(current).is_regression(current, proposed)


def _machine_for(
    state: object,
) -> StateMachine[CaseState, CaseAction] | StateMachine[ReferralState, ReferralAction]:
    if isinstance(state, CaseState):
        return CASE_MACHINE
    if isinstance(state, ReferralState):
        return REFERRAL_MACHINE
    raise _not_typed(state)


def _not_typed(state: object) -> TypeError:
    return TypeError(
        f"pass CaseState(...) or ReferralState(...), not {state!r}: both machines have a {state!r} state"
    )


# --- case helpers -------------------------------------------------------------------------------------


def rating_action(satisfaction: Satisfaction | str) -> CaseAction:
    """The case action for a callback rating (满意 / 基本满意 / 不满意)."""
    return {
        Satisfaction.satisfied: CaseAction.rate_satisfied,
        Satisfaction.basically_satisfied: CaseAction.rate_basically_satisfied,
        Satisfaction.dissatisfied: CaseAction.rate_dissatisfied,
    }[Satisfaction(satisfaction)]


def cancels_open_referrals(case_state: CaseState) -> bool:
    """A case that ends (closed, merged, withdrawn) cancels its referrals that are still open."""
    return CASE_MACHINE.is_final(case_state)


# --- referral with its suspension flag ----------------------------------------------------------------


@dataclass(frozen=True)
class ReferralStatus:
    state: ReferralState
    suspended: bool = False


def referral_allowed_actions(status: ReferralStatus) -> list[str]:
    """Allowed actions, with suspend/resume filtered by the suspension flag."""
    hidden = ReferralAction.suspend if status.suspended else ReferralAction.resume
    return [a.value for a in REFERRAL_MACHINE.allowed_actions(status.state) if a is not hidden]


def apply_referral(status: ReferralStatus, action: ReferralAction | str) -> ReferralStatus:
    """Apply ``action`` to state and flag; leaving the open states also ends a suspension."""
    allowed = referral_allowed_actions(status)
    if action not in allowed:
        label = f"{status.state.value} (suspended)" if status.suspended else status.state.value
        raise TransitionRefused(REFERRAL_MACHINE.name, label, str(action), allowed)
    new_state = REFERRAL_MACHINE.apply(status.state, action)
    if action == ReferralAction.suspend:
        return ReferralStatus(new_state, True)
    if action == ReferralAction.resume or REFERRAL_MACHINE.is_final(new_state):
        return ReferralStatus(new_state, False)
    return ReferralStatus(new_state, status.suspended)
