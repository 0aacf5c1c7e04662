"""The referral service's HTTP edge, shared by its routers: who is calling (the gateway's headers → an
:class:`~services.referral.actors.Actor`), the runtime and use cases of a request, and the one place
where domain errors become RFC 9457 problem details.

Use cases raise :mod:`services.referral.errors` and the domain's `TransitionRefused`; the handlers
installed here answer them with the problem `type`, `title`, `status`, `detail` and extra members
(`allowed_actions`, `errors`…) clients rely on.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace

from hub import scope
from hub.problems import Problem, problem_response
from hub.runtime import ServiceRuntime
from services.referral.actors import ROLES, Actor
from services.referral.domain.lifecycle import TransitionRefused
from services.referral.errors import Forbidden, InvalidRequest, NotFound, ReferralError, StateConflict
from services.referral.usecases.wiring import ReferralUseCases

# The HTTP status of each kind of refusal.
STATUS: dict[type[ReferralError], int] = {
    NotFound: 404,
    Forbidden: 403,
    StateConflict: 409,
    InvalidRequest: 422,
}
_STATE_ZH = "当前状态不允许该操作"


def actor_from_headers(
    x_hub_actor_role: Annotated[str | None, Header(max_length=32)] = None,
    x_hub_actor_department: Annotated[str | None, Header(max_length=100)] = None,
    x_hub_actor_id: Annotated[str | None, Header(max_length=64, pattern=r"^[\w.@:\-]+$")] = None,
    x_hub_actor_centre: Annotated[str | None, Header(max_length=12, pattern=r"^[0-9]+$")] = None,
    x_hub_actor_name: Annotated[str | None, Header(max_length=300)] = None,
) -> Actor:
    """The gateway passes the caller's role and department (authentication is the gateway's job), and
    for a named person their centre (an area code: what they may see, hub/scope.py) and their display
    name (percent-encoded UTF-8; audit only)."""
    role = (x_hub_actor_role or "centre").strip().lower()
    if role not in ROLES or role == "system":
        raise Forbidden("未知角色", "X-Hub-Actor-Role 必须是 centre、department、adapter 或 ops")
    department = (x_hub_actor_department or "").strip() or None
    if role == "department" and department is None:
        raise Forbidden("缺少部门", "部门角色必须带 X-Hub-Actor-Department（单位编码）")
    centre = centre_of_header(x_hub_actor_centre)
    name = unquote(x_hub_actor_name or "", errors="replace").strip() or None
    return Actor(role, department if role == "department" else None, x_hub_actor_id or None, centre, name)


def centre_of_header(value: str | None) -> str | None:
    """A district, street or community code, or None (the whole hub); anything else is refused."""
    if not value:
        return None
    try:
        scope.level(value)
    except scope.UnknownCentre:
        raise Forbidden("未知中心", f"X-Hub-Actor-Centre {value} 不是区县、街道或社区编码") from None
    return value


ActorDep = Annotated[Actor, Depends(actor_from_headers)]


def runtime(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


def use_cases(request: Request) -> ReferralUseCases:
    uc: ReferralUseCases = request.app.state.usecases
    return uc


def annotate(**attributes: str) -> None:
    """Codes only on spans (case number, unit code), never names or phone numbers."""
    span = trace.get_current_span()
    for key, value in attributes.items():
        span.set_attribute(f"hub.{key}", value)


def problem_of(error: ReferralError) -> Problem:
    status = next(code for kind, code in STATUS.items() if isinstance(error, kind))
    return Problem(status, error.title, error.detail, type_=error.type, **error.extra)


def refused_problem(exc: TransitionRefused) -> Problem:
    allowed = "、".join(exc.allowed_actions) if exc.allowed_actions else "无（已是终态）"
    return Problem(
        409,
        _STATE_ZH,
        f"{exc} —— 当前状态 {exc.current_state}，可执行的操作: {allowed}",
        type_="transition-refused",
        machine=exc.machine,
        current_state=exc.current_state,
        action=exc.action,
        allowed_actions=exc.allowed_actions,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ReferralError)
    async def _refused_by_use_case(request: Request, exc: ReferralError) -> JSONResponse:
        return problem_response(problem_of(exc), request)

    @app.exception_handler(TransitionRefused)
    async def _refused_by_life_cycle(request: Request, exc: TransitionRefused) -> JSONResponse:
        return problem_response(refused_problem(exc), request)
