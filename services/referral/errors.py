"""What a referral use case refuses, as domain errors: not found, a state conflict, an invalid request,
a forbidden role.

The use cases raise these (and the domain's own `TransitionRefused`); only the HTTP edge
(:mod:`services.referral.edge`) turns them into RFC 9457 problem details, a consumer into a rejected
message. Each error carries a stable `type_` (the problem `type` at the edge), a Chinese `title` and
`detail` for people, and the extra members a client acts on (`allowed_actions`, `errors`…).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ReferralError(Exception):
    """Something a use case refused; nothing has been written (the caller's transaction rolls back)."""

    def __init__(self, type_: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.type = type_
        self.title = title
        self.detail = detail
        self.extra = extra


class NotFound(ReferralError):
    """The case, referral, centre or task does not exist (or is not the caller's to see)."""


class Forbidden(ReferralError):
    """The caller's role may not do this."""

    def __init__(self, title: str, detail: str, *, type_: str = "forbidden-role") -> None:
        super().__init__(type_, title, detail)


class StateConflict(ReferralError):
    """The action is not allowed in the current state; says the state and what is allowed instead where
    the refusal is about the life cycle (other conflicts name what is in the way)."""

    def __init__(
        self,
        type_: str,
        title: str,
        detail: str,
        *,
        current_state: str | None = None,
        action: str | None = None,
        allowed_actions: Sequence[str] | None = None,
        **extra: Any,
    ) -> None:
        named: dict[str, Any] = {}
        if current_state is not None:
            named["current_state"] = current_state
        if action is not None:
            named["action"] = action
        if allowed_actions is not None:
            named["allowed_actions"] = list(allowed_actions)
        super().__init__(type_, title, detail, **named, **extra)
        self.current_state = current_state
        self.allowed_actions = list(allowed_actions) if allowed_actions is not None else None


class InvalidRequest(ReferralError):
    """The request names something unknown or breaks a rule; `errors` says which field and why."""

    def __init__(
        self,
        title: str,
        detail: str,
        *,
        errors: Sequence[dict[str, str]],
        type_: str = "validation-error",
        **extra: Any,
    ) -> None:
        super().__init__(type_, title, detail, **extra, errors=list(errors))
        self.errors = list(errors)


def field_error(field: str, message: str) -> dict[str, str]:
    """One entry of `errors`: the field path and what is wrong with it."""
    return {"field": field, "message": message}
