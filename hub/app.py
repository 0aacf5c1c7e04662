"""create_service_app: the HTTP face every service shares (health, readiness, metrics, problems, tracing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from hub.admission import AdmitWithinCapacity
from hub.body_limits import BodyLimits, LimitRequestBody
from hub.config import ServiceSettings
from hub.credential_guard import CredentialGuard
from hub.credentials import CredentialVerifier
from hub.database_away import AnswerWhileDatabaseAway
from hub.problems import install_problem_handlers
from hub.request_guards import RefuseNulCharacters
from hub.runtime import ServiceRuntime
from hub.tracing import configure_tracing, instrument_libraries, without_query

Hook = Callable[[], Awaitable[None]]


def create_service_app(
    runtime: ServiceRuntime,
    routers: list[APIRouter],
    *,
    title: str,
    on_start: list[Hook] | None = None,
    on_stop: list[Hook] | None = None,
    body_limits: BodyLimits | None = None,
) -> FastAPI:
    """`body_limits`: the largest request bodies (default: HUB_MAX_BODY_BYTES on every path)."""
    configure_tracing(runtime.service, runtime.settings)
    instrument_libraries()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        for hook in on_start or []:
            await hook()
        try:
            yield
        finally:
            for hook in on_stop or []:
                await hook()
            await runtime.stop()

    instance = runtime.settings.instance()  # derived once: /healthz answers it on every probe
    app = FastAPI(title=title, lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)
    # A request failing with the database away is answered 503 + Retry-After, not 500 (issue 16).
    app.add_middleware(AnswerWhileDatabaseAway, database_answers=lambda: runtime.db.answers(timeout=2))
    app.add_middleware(RefuseNulCharacters)
    if runtime.service != "gateway":
        # Behind the gateway: only requests it vouches for (before any handler reads a byte).
        settings = runtime.settings
        if not isinstance(settings, ServiceSettings):
            raise TypeError(f"{runtime.service} needs ServiceSettings (HUB_INTERNAL_VERIFY_KEYS)")
        verifier = CredentialVerifier(settings.internal_verify_keys, runtime.service, instance=instance)
        app.add_middleware(CredentialGuard, verifier=verifier)
    # Outermost (added last, runs first): no body is read past its limit, neither by the NUL check
    # (which reads text bodies whole) nor by anything else.
    app.add_middleware(LimitRequestBody, limits=body_limits or BodyLimits(runtime.settings.max_body_bytes))
    # Outermost of all: a request past the process's capacity is refused before anything is read (issue 16).
    app.add_middleware(
        AdmitWithinCapacity,
        max_in_flight=runtime.settings.max_in_flight,
        retry_after_s=runtime.settings.busy_retry_after_s,
        metrics=runtime.metrics,
    )

    @app.get("/healthz", tags=["ops"], summary="Alive (503: restart me)")
    async def healthz() -> JSONResponse:
        body = {"status": "ok", "service": runtime.service, "instance": instance}
        if problem := runtime.liveness():
            return JSONResponse({**body, "status": "failing", "reason": problem}, status_code=503)
        return JSONResponse(body)

    @app.get("/readyz", tags=["ops"], summary="Own database reachable; broker state as a degraded flag")
    async def readyz() -> JSONResponse:
        # Ready on the service's own database (and the process's own checks). The broker away is
        # "degraded", not unready: cases are still taken and their events wait in the outbox, so a load
        # balancer must keep sending traffic.
        checks = await runtime.readiness()
        ready = all(v == "ok" for k, v in checks.items() if k != "broker")
        status = ("ready" if checks["broker"] == "ok" else "degraded") if ready else "not ready"
        return JSONResponse(
            {"status": status, "service": runtime.service, "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
    async def metrics(_request: Request) -> Response:
        await runtime.refresh_metrics()
        body, content_type = runtime.metrics.render()
        return Response(body, media_type=content_type)

    for router in routers:
        app.include_router(router)
    if runtime.service != "gateway":  # the gateway's /internal would be public; it reads its own table
        from hub.ops import dead_letters_router, outbox_router

        app.include_router(outbox_router())
        app.include_router(dead_letters_router())

    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # receive/send spans cost more than half the throughput and say nothing (TARGETS.md).
    FastAPIInstrumentor.instrument_app(
        app,
        exclude_spans=["receive", "send"],
        excluded_urls="healthz,readyz,metrics",
        server_request_hook=without_query,  # a query string may hold anything the caller typed
    )
    return app
