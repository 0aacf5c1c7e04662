"""The one place referral turns an :class:`~services.referral.actors.Actor` into the SQL condition every
query on cases, referrals and tasks carries (issue 14 "Scoping everywhere"; docs/decisions/0013).

- A department sees its own referrals only, and a case only through them.
- Anyone else with a centre (a named person: centre, supervisor, ops) sees the cases whose holding
  centre (``cases.centre_id``, moved by 上报/下派) lies in that centre's subtree, or — while no centre
  holds the case — whose location does; the rule is the kit's (hub/scope.py), shared with intake.
- No centre (API clients, adapters, the system): the whole hub, as before.

Outside the scope is "not found" (404), never "forbidden": a person cannot learn that a case exists.
Every read model and every use case that loads a case, referral or task takes the actor and puts
one of these conditions into its query (tests/unit/referral/test_scoping_structure.py checks).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, select, true

from hub import scope
from hub.scope_sql import case_condition, code_condition
from services.referral.actors import Actor
from services.referral.tables import cases, referrals, tasks


def cases_visible(actor: Actor) -> ColumnElement[bool]:
    """The condition on ``cases`` (correlated when used inside a query on another table)."""
    if actor.is_department:
        return exists().where(
            referrals.c.case_no == cases.c.case_no, referrals.c.department == actor.department
        )
    return case_condition(actor.centre, holding=cases.c.centre_id, location=cases.c.street_code)


def referrals_visible(actor: Actor) -> ColumnElement[bool]:
    """The condition on ``referrals``: a department's own; for others, those of cases they see."""
    if actor.is_department:
        return referrals.c.department == actor.department
    if actor.centre is None:
        return true()
    return referrals.c.case_no.in_(select(cases.c.case_no).where(cases_visible(actor)))


def tasks_visible(actor: Actor) -> ColumnElement[bool]:
    """The condition on ``tasks``: the worklist of the centres in the person's subtree (none for a
    department: the worklist is the centres')."""
    if actor.is_department:
        return false()
    if actor.role == "grid_worker":  # a grid worker: the tasks of their grid, nothing else
        return tasks.c.grid == actor.grid if actor.grid else false()
    return code_condition(actor.centre, tasks.c.centre_id)


def centre_visible(actor: Actor, centre_id: str | None) -> bool:
    """Whether a centre (a view's or a filter's parameter) lies in the person's subtree."""
    if actor.is_department:
        return False
    return centre_id is not None and scope.contains(actor.centre, centre_id)
