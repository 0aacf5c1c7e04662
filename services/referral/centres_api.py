"""Referral's HTTP interface behind the gateway (/internal/v1): the centre tree and what a centre sees,
where cases were finally resolved, and the official holiday schedules (节假日安排) in force.

Moving a case between centres (上报, 下派) is a case action (services/referral/api.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from hub import ranges
from hub.contracts.http.referral import (
    MAX_PAGE,
    CentreCasesOut,
    CentreOut,
    ResolutionLevelsOut,
    ScheduleIn,
    ScheduleLoadedOut,
    UnitOut,
)
from hub.datafile import DataFileError
from hub.problems import Problem
from services.referral import centre_views, scoping
from services.referral.actors import Actor
from services.referral.domain.calendar import YearSchedule, parse_year_schedule
from services.referral.domain.centres import CentreTree
from services.referral.edge import ActorDep, referral_settings, runtime, use_cases

router = APIRouter(prefix="/internal/v1", tags=["referral"])


def _tree(request: Request) -> CentreTree:
    return use_cases(request).context.config.centres


def _known_centre(tree: CentreTree, centre_id: str, actor: Actor) -> None:
    """A centre outside the person's subtree is not found, as an unknown one."""
    if centre_id not in tree.centres or not scoping.centre_visible(actor, centre_id):
        raise Problem(404, "未找到该中心", f"没有编码为 {centre_id} 的中心", type_="centre-not-found")


@router.get(
    "/centres", response_model=list[CentreOut], summary="The centre tree (district, streets, communities)"
)
async def list_centres(request: Request) -> list[CentreOut]:
    return [
        CentreOut(id=c.id, level=c.level.value, name_zh=c.name_zh, parent_id=c.parent_id)
        for c in _tree(request).centres.values()
    ]


@router.get(
    "/departments",
    response_model=list[UnitOut],
    summary="The department registry (1+7+N): every unit a case can be dispatched to, by area then type",
)
async def list_departments(request: Request, actor: ActorDep) -> list[UnitOut]:
    # The registry is not secret, but not public either: the roles that dispatch and watch dispatching.
    actor.require("centre", "ops")
    registry = use_cases(request).context.config.registry
    out = []
    for unit in registry.units.values():
        kind = registry.types.get(unit.type)
        area = registry.areas.get(unit.area_code)
        out.append(
            UnitOut(
                code=unit.code,
                name_zh=unit.name_zh,
                type=unit.type,
                type_name_zh=kind.name_zh if kind else unit.type,
                group=str(kind.group) if kind else "on_demand",
                area_code=unit.area_code,
                area_name_zh=area.name_zh if area else None,
                system=str(unit.system),
            )
        )
    return sorted(out, key=lambda u: (len(u.area_code), u.area_code, u.group != "resident", u.type))


@router.get(
    "/centres/{centre_id}/cases",
    response_model=CentreCasesOut,
    summary="Cases a centre sees: its own and those below it (the district: every red case at once)",
)
async def centre_cases(
    centre_id: str,
    request: Request,
    actor: ActorDep,
    open_only: bool = True,
    colour: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CentreCasesOut:
    actor.require("centre", "ops")
    tree = _tree(request)
    _known_centre(tree, centre_id, actor)
    async with runtime(request).db.sessions() as session:
        return await centre_views.centre_cases(
            session,
            tree,
            centre_id,
            actor,
            open_only=open_only,
            colour=colour,
            page=page,
            page_size=page_size,
        )


@router.get(
    "/stats/resolution-levels",
    response_model=ResolutionLevelsOut,
    summary="Closed cases by the level at which they were finally resolved",
)
async def resolution_levels(
    request: Request,
    actor: ActorDep,
    centre: Annotated[str | None, Query(max_length=12)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: Annotated[AwareDatetime | None, Query()] = None,
) -> ResolutionLevelsOut:
    actor.require("centre", "ops")
    tree = _tree(request)
    if centre is not None:
        _known_centre(tree, centre, actor)
    settings = referral_settings(request)
    window = ranges.resolve(  # every read bounded (issue 16): a year by default, never every case ever
        from_,
        to,
        now=use_cases(request).context.clock(),
        default=timedelta(days=settings.stats_range_default_days),
        maximum=timedelta(days=settings.stats_range_max_days),
        setting="HUB_REFERRAL_STATS_RANGE_MAX_DAYS",
    )
    async with runtime(request).db.sessions() as session:
        return await centre_views.resolution_levels(
            session, tree, actor, window, centre=centre, category=category
        )


# --- holiday schedules (节假日安排) -------------------------------------------------------------------


async def _parsed(body: ScheduleIn) -> YearSchedule:
    """The uploaded schedule, parsed in a worker thread (a large upload never holds the event loop:
    health checks, the API); a bad one is a 422 naming where."""
    try:
        return await asyncio.to_thread(parse_year_schedule, body.text, source=body.source or "api")
    except DataFileError as exc:
        raise Problem(
            422,
            "节假日安排文件有误",
            str(exc),
            type_="validation-error",
            errors=[{"field": f"text.{exc.where}", "message": exc.problem}],
        ) from None


@router.post(
    "/calendar/schedules",
    response_model=ScheduleLoadedOut,
    summary="Load a year's official holiday schedule (audited); provisional deadlines are recomputed",
)
async def load_schedule(body: ScheduleIn, request: Request, actor: ActorDep) -> ScheduleLoadedOut:
    actor.require("centre")
    schedule = await _parsed(body)
    schedules = use_cases(request).schedules
    recomputed = await schedules.load_and_commit(runtime(request).db, schedule, actor)
    return ScheduleLoadedOut(
        year=schedule.year,
        source=schedule.source,
        holidays=len(schedule.holidays),
        workdays=len(schedule.makeup_workdays),
        recomputed=recomputed,
    )


@router.post(
    "/calendar/schedules/preview",
    summary="What loading a schedule would do: the provisional deadlines it would move (nothing written)",
)
async def preview_schedule(body: ScheduleIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    actor.require("centre")
    schedule = await _parsed(body)
    async with runtime(request).db.sessions() as session:
        return await use_cases(request).schedules.preview(session, schedule)


@router.get("/calendar", summary="Which years the working-day calendar covers, and provisional deadlines")
async def calendar_status(request: Request, actor: ActorDep) -> dict[str, object]:
    actor.require("centre", "ops")
    async with runtime(request).db.sessions() as session:
        return await use_cases(request).schedules.view(session)
