"""Scoping cannot be forgotten (issue 14 "Scoping everywhere", docs/decisions/0013-centre-scoping.md):
every route of intake and referral reads the actor, and every read model and use-case loader takes it,
so a new route or query without the person's scope fails here before any matrix cell does.

What is exempt is listed with the reason; adding to the lists is a decision a reviewer sees.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.intake import actors as intake_actors
from services.intake import api as intake_api
from services.intake import bulk as intake_bulk
from services.intake import key_persons_api as intake_key_persons
from services.intake import ops as intake_ops
from services.intake.casework import assessment_changes, guards, key_persons, merging, notes, personal_data
from services.referral import api as referral_api
from services.referral import (
    case_views,
    centre_views,
    centres_api,
    edge,
    list_views,
    task_views,
    tasks_api,
)
from services.referral import ops as referral_ops
from services.referral.usecases.context import Context
from services.referral.usecases.worklist import Worklist

ROUTERS: dict[str, tuple[APIRouter, Callable[..., Any]]] = {
    "referral.api": (referral_api.router, edge.actor_from_credential),
    "referral.centres": (centres_api.router, edge.actor_from_credential),
    "referral.tasks": (tasks_api.router, edge.actor_from_credential),
    "referral.ops": (referral_ops.router, edge.actor_from_credential),
    "intake.api": (intake_api.router, intake_actors.current_actor),
    "intake.ops": (intake_ops.router, intake_actors.current_actor),
    "intake.bulk": (intake_bulk.router, intake_actors.current_actor),
    "intake.key_persons": (intake_key_persons.router, intake_actors.current_actor),
}
# Routes that read no case: the centre tree is the organisation chart, not case data.
NO_CASE_DATA = {("GET", "/internal/v1/centres")}

READ_MODULES: tuple[ModuleType, ...] = (
    case_views,
    list_views,
    centre_views,
    task_views,
    referral_ops,
    guards,
    assessment_changes,
    merging,
    notes,
    personal_data,
    key_persons,
)
# Functions that take rows or a case already loaded through a scoped query in the same transaction.
TAKES_SCOPED_ROWS = {
    "referrals_out": "the rows of a scoped case or referral query",
    "task_view": "a row loaded by Worklist.task_or_404(actor)",
    "reload_case": "re-reads the case locked by guards.lock_case(actor) in the same transaction",
    "get_stalled": "an HTTP handler: reads the actor and passes it to stalled()",
    "get_facts": "an HTTP handler: reads the actor and passes it to facts()",
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _routes() -> Iterator[tuple[str, APIRoute, Callable[..., Any]]]:
    for name, (router, reader) in ROUTERS.items():
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield name, route, reader


def test_every_route_reads_the_actor() -> None:
    missing = [
        f"{name}: {sorted(route.methods)} {route.path}"
        for name, route, reader in _routes()
        if reader not in set(_calls(route.dependant))
        and not any((m, route.path) in NO_CASE_DATA for m in route.methods)
    ]
    assert not missing, "routes that never read who is calling (so cannot scope):\n" + "\n".join(missing)


def test_the_structure_test_sees_a_route_that_forgets_the_actor() -> None:
    router = APIRouter()

    @router.get("/internal/v1/cases/{case_no}/forgotten")
    async def forgotten(case_no: str) -> dict[str, str]:
        return {"case_no": case_no}

    route = next(r for r in router.routes if isinstance(r, APIRoute))
    assert edge.actor_from_credential not in set(_calls(route.dependant))


def _public_functions(module: ModuleType) -> Iterator[tuple[str, inspect.Signature]]:
    for name, value in vars(module).items():
        if (
            name.startswith("_")
            or not inspect.iscoroutinefunction(value)
            or value.__module__ != module.__name__
        ):
            continue
        yield name, inspect.signature(value)


@pytest.mark.parametrize("module", READ_MODULES, ids=lambda m: m.__name__)
def test_every_query_function_takes_the_actor(module: ModuleType) -> None:
    """A public coroutine that reads the database (a `session` or `rt` parameter) takes the actor."""
    forgot = [
        name
        for name, signature in _public_functions(module)
        if ({"session", "rt"} & set(signature.parameters))
        and "actor" not in signature.parameters
        and name not in TAKES_SCOPED_ROWS
    ]
    assert not forgot, f"{module.__name__}: query functions without the actor: {forgot}"


@pytest.mark.parametrize(
    "loader", [Context.load_case, Context.load_referral, Worklist.task_or_404], ids=lambda f: f.__qualname__
)
def test_the_loaders_of_every_action_require_the_actor(loader: Callable[..., Any]) -> None:
    actor = inspect.signature(loader).parameters["actor"]
    assert actor.default is inspect.Parameter.empty  # no default: a caller cannot leave it out
