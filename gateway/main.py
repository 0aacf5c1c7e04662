"""The gateway: the one public HTTP edge (API, console, adapters) and the timeline projection."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request, Response

from gateway.routes import cases
from gateway.tables import kit, metadata
from gateway.timeline import project_event
from gateway.upstream import PassThrough, Upstream
from hub.app import create_service_app
from hub.config import Settings
from hub.runtime import ServiceRuntime


def bootstrap(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime("gateway", settings, metadata, kit)
    runtime.consume("gateway.timeline", {"#": project_event})
    client = httpx.AsyncClient()
    app = create_service_app(
        runtime, [cases.router], title="综治中心事项流转平台 API (Referral hub)", on_stop=[client.aclose]
    )
    app.state.upstream = Upstream(
        client,
        {s: settings.url_of(s) for s in ("intake", "referral", "notification")},
    )
    app.include_router(__import__("gateway.routes.intake_actions", fromlist=["router"]).router)
    app.include_router(__import__("gateway.routes.referrals", fromlist=["router"]).router)
    app.include_router(__import__("gateway.routes.case_actions", fromlist=["router"]).router)
    app.include_router(__import__("gateway.routes.tiers", fromlist=["router"]).router)  # centres, calendar
    app.include_router(__import__("gateway.routes.tasks", fromlist=["router"]).router)  # the worklist (待办)
    app.include_router(__import__("gateway.routes.auth", fromlist=["router"]).router)  # /api/v1/auth/token
    app.include_router(__import__("gateway.open311.routes", fromlist=["router"]).router)  # /open311/v2
    app.include_router(__import__("gateway.routes.ops", fromlist=["router"]).router)  # /api/v1/ops (issue 7)
    __import__("gateway.ops.metrics", fromlist=["install"]).install(runtime)  # adapter delivery gauges
    app.state.dead_letters = __import__("gateway.ops.dead_letters", fromlist=["install"]).install(runtime)
    __import__("gateway.adapters", fromlist=["install"]).install(runtime, app)  # /adapters/*, outbound sync
    __import__("gateway.auth", fromlist=["install"]).install(app, settings)  # bearer auth, roles, limits, ids
    __import__("gateway.console", fromlist=["install"]).install(app)  # /console/ web console; / → there

    @app.exception_handler(PassThrough)
    async def _pass_through(_request: Request, exc: PassThrough) -> Response:
        return exc.to_response()

    return app
