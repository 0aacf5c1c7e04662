"""When a message may go out: quiet hours and the per-phone rate limit together (pure).

A message is deferred, never dropped: the result is the earliest instant that is outside quiet hours
(unless the colour is exempt) and keeps every rate-limit window within its limit. Departments are
on duty, so neither rule applies to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.notification.domain.quiet_hours import QuietHoursPolicy, RecipientKind, send_not_before
from services.notification.domain.rate_limit import RateLimitPolicy, decide

_MAX_ROUNDS = 1000


@dataclass(frozen=True)
class SendingPolicy:
    quiet_hours: QuietHoursPolicy = field(default_factory=QuietHoursPolicy)
    rate_limit: RateLimitPolicy = field(default_factory=RateLimitPolicy)


NO_QUIET_HOURS = QuietHoursPolicy(start=QuietHoursPolicy().end, end=QuietHoursPolicy().end)


def earliest_send(
    now: datetime,
    colour: str | None,
    recipient_kind: RecipientKind,
    sends: Iterable[datetime],
    policy: SendingPolicy | None = None,
) -> datetime:
    """The earliest instant ≥ `now` at which this message may be handed to a provider.

    `sends` are the phone's other sends: done ones and ones already scheduled (so a batch deferred
    to 08:00 is spread out rather than landing at once).
    """
    policy = policy or SendingPolicy()
    if recipient_kind == "department":
        return now
    history = list(sends)
    candidate = now
    for _ in range(_MAX_ROUNDS):
        allowed = send_not_before(candidate, colour, recipient_kind, policy.quiet_hours)
        decision = decide(history, allowed, policy.rate_limit)
        if decision.allowed:
            return allowed
        candidate = decision.not_before
    raise AssertionError("no send time found within the search bound")  # pragma: no cover
