"""The gateway: the one public HTTP edge (API, console, adapters) and the timeline projection."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request, Response

from gateway import adapters, citizen, console, edge
from gateway.auth import wiring as auth
from gateway.instances import UpstreamInstances
from gateway.open311 import reads as open311_reads
from gateway.open311 import routes as open311
from gateway.ops import dead_letters, metrics
from gateway.routes import accounts as account_routes
from gateway.routes import auth as token_route
from gateway.routes.forwarding import build_router
from gateway.routes.table import ROUTES
from gateway.settings import GatewaySettings
from gateway.tables import kit, metadata
from gateway.timeline import project_event
from gateway.upstream import PassThrough, Upstream
from hub.app import create_service_app
from hub.credentials import CredentialMinter
from hub.messaging.handlers import EVERY_EVENT, Handlers
from hub.runtime import ServiceRuntime


def bootstrap(settings: GatewaySettings) -> FastAPI:
    runtime = ServiceRuntime("gateway", settings, metadata, kit)
    # One row per event, no lock beyond it: its deliveries share transactions (HUB_CONSUMER_BATCH).
    runtime.consume("gateway.timeline", Handlers({EVERY_EVENT: project_event}), batch=True)
    # Idle connections to the services are dropped before uvicorn's own keep-alive timeout (5 s) closes
    # them: at equal timeouts a request could go out on a connection the service is closing, and a POST
    # that may have reached it cannot be retried blindly.
    client = httpx.AsyncClient(limits=httpx.Limits(keepalive_expiry=2.0))
    app = create_service_app(
        runtime,
        [
            build_router(ROUTES),
            token_route.router,
            account_routes.router,
            open311.router,
            open311_reads.router,
        ],  # /api/v1, /open311/v2
        title="综治中心事项流转平台 API (Referral hub)",
        on_stop=[client.aclose],
        body_limits=edge.body_limits(settings),  # general, token endpoint, Open311, webhooks
    )
    urls = {s: settings.url_of(s) for s in ("intake", "referral", "notification")}
    # The gateway is the one holder of the signing key; its credentials name this hub's instance.
    instance = settings.instance()
    minter = CredentialMinter(settings.internal_signing_key, instance=instance)
    app.state.upstream = Upstream(client, urls, minter)
    instances = UpstreamInstances(client, urls, instance)
    runtime.background("upstream-instances", instances.run)
    runtime.readiness_checks.append(instances.check)
    open311_reads.install(app)  # per-address buckets of the unauthenticated Open311 reads
    citizen.install(app)  # /report/*: the citizen QR form (码上监督), its status pages and QR codes
    metrics.install(runtime)  # adapter delivery gauges
    app.state.dead_letters = dead_letters.install(runtime)
    adapters.install(runtime, app)  # /adapters/* webhooks, outbound sync
    auth.install(app, settings)  # bearer auth, roles, limits, ids
    console.install(app)  # /console/ web console; / → there
    edge.install(app, settings)  # security headers, /docs and /metrics closed in production (outermost)

    @app.exception_handler(PassThrough)
    async def _pass_through(_request: Request, exc: PassThrough) -> Response:
        return exc.to_response()

    return app
