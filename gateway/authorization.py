"""Who may call which /api/v1 endpoint: route × role permissions, read from the route table
(gateway/routes/table.py), so a route and the roles that may call it are one row (API.md "Auth").

Permissions match the route's *template* (e.g. `/api/v1/cases/{case_no}`), found by matching the
request path against the table's templates, so a path cannot be disguised. A path that matches no
template is not a route: the middleware answers 404 before any handler could run (deny by default,
whatever else is mounted under /api/v1). A route whose `roles` is empty is refused to every role.

Row-level scoping the table cannot express is the row's `own` (gateway/auth/scoping.py):
`adapter_channel` (an adapter registers cases only on its own system's channel) and `adapter_case`
(an adapter acts only on cases that came from its own system; others: 404). A department's referrals
are scoped by the referral service itself, from the department the internal credential names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from starlette.routing import compile_path

from gateway.auth.roles import ROLES, SYSTEM_CHANNELS, SYSTEMS
from gateway.routes.spec import Route

__all__ = ["ROLES", "SYSTEMS", "SYSTEM_CHANNELS", "Decision", "Permissions", "decide", "permissions"]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    route: Route | None

    @property
    def own(self) -> str | None:
        return self.route.own if self.allowed and self.route else None


@dataclass(frozen=True)
class Match:
    """Where a request path landed: its template and parameters, and the route of its method."""

    template: str | None  # None: no route has this path
    params: dict[str, Any]
    route: Route | None  # None with a template: the path exists, not with this method (405)


class Permissions:
    """The route × role table of a list of routes, and the matcher of request paths onto them."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes = {(_method(r.method), r.path): r for r in routes}
        self._patterns: list[tuple[re.Pattern[str], str]] = []
        for template in dict.fromkeys(path for _, path in self.routes):
            regex, _, _ = compile_path(template)
            self._patterns.append((regex, template))

    def decide(self, method: str, template: str, role: str) -> Decision:
        route = self.routes.get((_method(method), template))
        return Decision(route is not None and role in route.roles, route)

    def allowed_roles(self, method: str, template: str) -> frozenset[str]:
        route = self.routes.get((_method(method), template))
        return route.roles if route else frozenset()

    def match(self, path: str, method: str) -> Match:
        for regex, template in self._patterns:
            found = regex.match(path)
            if found:
                return Match(template, found.groupdict(), self.routes.get((_method(method), template)))
        return Match(None, {}, None)


def _method(method: str) -> str:
    method = method.upper()
    return "GET" if method == "HEAD" else method


@cache
def permissions() -> Permissions:
    """The gateway's own table (built on first use, not at import)."""
    from gateway.routes.table import ROUTES

    return Permissions(ROUTES)


def decide(method: str, template: str, role: str) -> Decision:
    return permissions().decide(method, template, role)


def allowed_roles(method: str, template: str) -> frozenset[str]:
    return permissions().allowed_roles(method, template)
