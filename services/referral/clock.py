"""The referral service's clock: every "now" of its handlers and watchdog comes from one callable.

Production uses :func:`system_clock`; tests (and demos) inject a :class:`ManualClock` through
``bootstrap(settings, clock=...)`` and move business time without sleeping. Leases (who holds a
claimed row) always use the real clock: they are about processes, not business time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hub.utc import as_utc

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def __call__(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now
