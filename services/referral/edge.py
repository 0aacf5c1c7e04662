"""The referral service's HTTP edge, shared by its routers: who is calling (the gateway's internal credential → an
:class:`~services.referral.actors.Actor`), the runtime and use cases of a request, and the one place
where domain errors become RFC 9457 problem details.

Use cases raise :mod:`services.referral.errors` and the domain's `TransitionRefused`; the handlers
installed here answer them with the problem `type`, `title`, `status`, `detail` and extra members
(`allowed_actions`, `errors`…) clients rely on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace

from hub import scope
from hub.credential_guard import principal_of
from hub.problems import Problem, problem_response
from hub.runtime import ServiceRuntime
from services.referral.actors import ROLES, Actor
from services.referral.domain.lifecycle import TransitionRefused
from services.referral.errors import Forbidden, InvalidRequest, NotFound, ReferralError, StateConflict
from services.referral.settings import ReferralSettings
from services.referral.usecases.wiring import ReferralUseCases

# The HTTP status of each kind of refusal.
STATUS: dict[type[ReferralError], int] = {
    NotFound: 404,
    Forbidden: 403,
    StateConflict: 409,
    InvalidRequest: 422,
}
_STATE_ZH = "当前状态不允许该操作"


def actor_from_credential(request: Request) -> Actor:
    """Who acts, as the gateway vouched for it in the internal credential (hub/credential_guard.py has
    checked it before any route runs): role, department, the person's or client's id, centre and name."""
    principal = principal_of(request)
    if principal is None:  # the guard lets nothing through without one; never act as anyone
        raise Problem(401, "未经网关认证的内部请求", "缺少内部凭证", type_="internal-credential")
    role = principal.role.strip().lower()
    if role not in ROLES or role == "system":  # the hub's own work never comes over HTTP
        raise Forbidden("未知角色", f"角色 {role} 不能调用转办服务（允许: centre、department、adapter、ops）")
    department = (principal.department or "").strip() or None
    if role == "department" and department is None:
        raise Forbidden("缺少部门", "部门角色的内部凭证必须带部门（单位编码）")
    return Actor(
        role,
        department if role == "department" else None,
        principal.id or None,
        centre=centre_of(principal.centre),
        name=principal.name,
        kind=principal.kind,
    )


def centre_of(value: str | None) -> str | None:
    """A district, street or community code, or None (the whole hub); anything else is refused."""
    if not value:
        return None
    try:
        scope.level(value)
    except scope.UnknownCentre:
        raise Forbidden("未知中心", f"中心编码 {value} 不是区县、街道或社区编码") from None
    return value


ActorDep = Annotated[Actor, Depends(actor_from_credential)]


def runtime(request: Request) -> ServiceRuntime:
    rt: ServiceRuntime = request.app.state.runtime
    return rt


def referral_settings(request: Request) -> ReferralSettings:
    options: ReferralSettings = request.app.state.referral_settings
    return options


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
