"""Per-phone SMS rate limit: at most N messages in any rolling window (default 5 per hour).

A send over the limit is deferred to the earliest time that keeps every window within the limit,
never dropped. `sends` may include sends already scheduled in the future (for instance a batch
deferred by quiet hours to 08:00), so the deferred messages do not all land in the same minute.
A send exactly one window ago no longer counts: windows are half-open, (t - window, t].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RateLimitPolicy:
    max_per_window: int = 5
    window: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_per_window < 1:
            raise ValueError("max_per_window must be at least 1")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    # `now` when allowed, otherwise when the deferred send may go out.
    not_before: datetime


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("rate limiting needs aware datetimes")


def _fits(candidate: datetime, sends: list[datetime], policy: RateLimitPolicy) -> bool:
    # Adding `candidate` only affects windows ending in [candidate, candidate + window); their
    # counts change only at a send, so checking those ends is enough.
    window_ends = [candidate, *(s for s in sends if candidate <= s < candidate + policy.window)]
    return all(
        sum(1 for s in sends if end - policy.window < s <= end) < policy.max_per_window for end in window_ends
    )


def decide(sends: Iterable[datetime], now: datetime, policy: RateLimitPolicy | None = None) -> RateDecision:
    """May one more SMS go to this phone at `now`? If not, when is the earliest time it may?"""
    policy = policy or RateLimitPolicy()
    _require_aware(now)
    history = list(sends)
    for s in history:
        _require_aware(s)
    # Sends a full window before `now` cannot share a window with any send at or after `now`.
    ordered = sorted(s for s in history if s > now - policy.window)
    if _fits(now, ordered, policy):
        return RateDecision(allowed=True, not_before=now)
    # Feasibility only improves when some send leaves the window, so try those instants in order.
    for candidate in sorted({s + policy.window for s in ordered if s + policy.window > now}):
        if _fits(candidate, ordered, policy):
            return RateDecision(allowed=False, not_before=candidate.astimezone(now.tzinfo))
    # Unreachable: after the last send's window closes, nothing counts any more.
    raise AssertionError("no feasible send time found")
