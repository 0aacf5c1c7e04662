"""The scoping rule (:mod:`hub.scope`) as SQL: the condition each service adds to every query on cases
(and on what hangs off them), built from the person's centre and the service's own columns.

Kept apart from :mod:`hub.scope` so the rule stays pure (domains may import it); the services call
these only from their one scoping module (services/*/scoping.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from hub import scope


def code_condition(centre: str | None, column: Any) -> ColumnElement[bool]:
    """``column`` (a centre's or an area's code) lies in the subtree of ``centre``."""
    head = scope.prefix(centre)
    if head is None:
        return true()
    inside = and_(column.is_not(None), column.startswith(head, autoescape=True))
    if scope.sees_unplaced(centre):
        return or_(inside, column.is_(None))
    return inside


def case_condition(centre: str | None, *, holding: Any, location: Any) -> ColumnElement[bool]:
    """The case rule (:func:`hub.scope.visible`): by the holding centre when one holds the case, else by
    its location; with neither, a district's (and the whole hub's) only."""
    head = scope.prefix(centre)
    if head is None:
        return true()
    held_inside = and_(holding.is_not(None), holding.startswith(head, autoescape=True))
    located_inside = and_(
        holding.is_(None), location.is_not(None), location.startswith(head, autoescape=True)
    )
    unplaced = and_(holding.is_(None), location.is_(None)) if scope.sees_unplaced(centre) else false()
    return or_(held_inside, located_inside, unplaced)
