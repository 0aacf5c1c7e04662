"""Who may call which /api/v1 endpoint: the one table of routes × roles (API.md "Auth").

Rules match the route's *template* (as declared on the router, e.g. `/api/v1/cases/{case_no}`), so a
path cannot be disguised. In a pattern `*` is one path segment (any `{parameter}`) and `**` is one or
more segments. The first rule that matches the method and template decides; a route no rule
matches is refused to every role (deny by default), so a new endpoint is closed until it is added
here.

Row-level scoping the table cannot express is named in `own` and enforced by gateway/auth.py:
- `adapter_channel`: an adapter registers cases only on its own system's channel;
- `adapter_case`: an adapter acts only on cases that came from its own system (others: 404).
A department's referrals are scoped by the referral service itself, from `X-Hub-Actor-Department`
(another department's referral is 404 there).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("centre", "department", "adapter", "ops")
# External systems an adapter client may be bound to, and the case channel each one files on.
SYSTEM_CHANNELS = {
    "hotline12345": "hotline12345",
    "police110": "police110",
    "court": "court",
    "procuratorate12309": "procuratorate12309",
    "open311": "web",
}
SYSTEMS = tuple(SYSTEM_CHANNELS)

READ = ("GET", "HEAD")
WRITE = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Rule:
    methods: tuple[str, ...]
    pattern: str
    roles: frozenset[str]
    own: str | None = None  # extra row-level check (see the module docstring)
    note: str = ""

    def matches(self, method: str, template: str) -> bool:
        return method in self.methods and _match(self.pattern.split("/"), _segments(template))


def _rule(
    methods: tuple[str, ...], pattern: str, *roles: str, own: str | None = None, note: str = ""
) -> Rule:
    return Rule(methods, pattern, frozenset(roles), own, note)


# First match wins: specific rules before the general ones below them.
RULES: tuple[Rule, ...] = (
    # Cases (centre staff; adapters register and pass callbacks of their own system; ops reads masked).
    _rule(("POST",), "/api/v1/cases", "centre", "adapter", own="adapter_channel"),
    _rule(("POST",), "/api/v1/cases/*/callback", "centre", "adapter", own="adapter_case"),
    _rule(("POST",), "/api/v1/cases/*/notes", "centre", "adapter", own="adapter_case"),
    _rule(READ, "/api/v1/cases/*/personal-data", "centre", note="personal data: never ops"),
    _rule(READ, "/api/v1/cases", "centre", "ops"),
    _rule(READ, "/api/v1/cases/**", "centre", "ops"),
    _rule(WRITE, "/api/v1/cases/**", "centre"),
    _rule(READ, "/api/v1/dispatch-queue", "centre", note="the dispatcher's manual queue"),
    # Referrals (department side; the centre reads them and decides extensions).
    _rule(("POST",), "/api/v1/referrals/*/extension/decision", "centre"),
    _rule(READ, "/api/v1/referrals", "department", "centre"),
    _rule(READ, "/api/v1/referrals/**", "department", "centre"),
    _rule(("POST",), "/api/v1/referrals/**", "department"),
    # Tiered centres and holiday schedules (escalate/delegate are case writes above: centre only).
    _rule(READ, "/api/v1/centres", "centre", "ops"),
    _rule(READ, "/api/v1/centres/*/cases", "centre", "ops"),
    _rule(READ, "/api/v1/stats/resolution-levels", "centre", "ops"),
    _rule(
        ("POST",), "/api/v1/calendar/schedules", "centre", note="audited; recomputes provisional deadlines"
    ),
    _rule(READ, "/api/v1/calendar", "centre", "ops"),
    # The worklist (待办): centre staff act on tasks; ops read them (no staff notes, no personal data).
    _rule(READ, "/api/v1/tasks", "centre", "ops"),
    _rule(READ, "/api/v1/tasks/*", "centre", "ops"),
    _rule(("POST",), "/api/v1/tasks/*/done", "centre", note="audited"),
    _rule(("POST",), "/api/v1/tasks/*/snooze", "centre", note="audited"),
    # Ops: read-only views with no personal data (centre supervisors watch them too).
    _rule(READ, "/api/v1/ops", "ops", "centre"),
    _rule(READ, "/api/v1/ops/**", "ops", "centre"),
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: Rule | None

    @property
    def own(self) -> str | None:
        return self.rule.own if self.allowed and self.rule else None


def decide(method: str, template: str, role: str) -> Decision:
    method = method.upper()
    for rule in RULES:
        if rule.matches(method, template):
            return Decision(role in rule.roles, rule)
    return Decision(False, None)


def allowed_roles(method: str, template: str) -> frozenset[str]:
    for rule in RULES:
        if rule.matches(method.upper(), template):
            return rule.roles
    return frozenset()


def _segments(path: str) -> list[str]:
    return ["*" if s.startswith("{") and s.endswith("}") else s for s in path.split("/")]


def _match(pattern: list[str], path: list[str]) -> bool:
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_match(rest, path[i:]) for i in range(1, len(path) + 1))
    if not path:
        return False
    if head == "*":
        return path[0] != "" and _match(rest, path[1:])
    return head == path[0] and _match(rest, path[1:])
