"""The one forwarder: FastAPI routes built from the route table (gateway/routes/table.py).

For a forwarded row the endpoint's signature is assembled from the row — its path parameters, its
typed body and query models, the actor headers trusted with HUB_AUTH_REQUIRED=false — so FastAPI
validates the public request and documents it in OpenAPI; the endpoint then calls the service, with an
internal credential naming who acts (gateway/principals.py), and hands its answer back unchanged
(status, body, content type; problem details included). A row served here is mounted with its own
handler. Row-level scoping that needs the case (`adapter_case`) runs as a dependency,
before the body is validated, as it did when the middleware checked it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import BaseModel

from gateway.auth.scoping import adapter_case_guard
from gateway.principals import principal_of
from gateway.routes.spec import Route
from gateway.upstream import Upstream

ActorRole = Annotated[
    str | None,
    Header(max_length=32, description="centre | department | adapter | ops | supervisor (default centre)"),
]
ActorDepartment = Annotated[
    str | None, Header(max_length=100, description="The calling department's unit code")
]
ActorId = Annotated[
    str | None,
    Header(max_length=64, pattern=r"^[\w.@:\-]+$", description="Set by the gateway from the token"),
]
ActorCentre = Annotated[
    str | None,
    Header(
        max_length=12,
        pattern=r"^[0-9]+$",
        description="A named person's centre (area code): the services scope every read and action to it",
    ),
]
ActorName = Annotated[
    str | None, Header(max_length=300, description="A named person's display name, percent-encoded UTF-8")
]
IdempotencyKey = Annotated[str | None, Header(max_length=128)]

_KW = inspect.Parameter.KEYWORD_ONLY


def build_router(routes: Iterable[Route]) -> APIRouter:
    router = APIRouter()
    for route in routes:
        endpoint = route.handler or _forwarder(route)
        extra: dict[str, Any] = {}
        if route.response is not None:
            extra["response_model"] = route.response
        router.add_api_route(
            route.path,
            endpoint,
            methods=[route.method],
            name=route.name,
            summary=route.summary,
            description=route.description,
            status_code=route.status_code,
            tags=[route.tag],
            **extra,
        )
    return router


def _forwarder(route: Route) -> Callable[..., Awaitable[Response]]:
    if route.service is None:
        raise ValueError(f"{route.method} {route.path}: neither forwarded nor served here")

    async def endpoint(request: Request, **values: Any) -> Response:
        return await forward(request, route, values)

    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        _parameters(route), return_annotation=Response
    )
    endpoint.__name__ = route.name
    return endpoint


def _parameters(route: Route) -> list[inspect.Parameter]:
    params = [inspect.Parameter("request", _KW, annotation=Request)]
    if route.own == "adapter_case":
        params.append(
            inspect.Parameter("scoped", _KW, annotation=Annotated[None, Depends(adapter_case_guard)])
        )
    params += [inspect.Parameter(name, _KW, annotation=str) for name in route.parameters]
    if route.body is not None:
        field = Body(description=route.body_description)
        if route.body_required:
            params.append(inspect.Parameter("body", _KW, annotation=_annotated(route.body, field)))
        else:
            optional = _annotated(route.body | None, field)
            params.append(inspect.Parameter("body", _KW, annotation=optional, default=None))
    if route.query is not None:
        params.append(inspect.Parameter("query", _KW, annotation=_annotated(route.query, Query())))
    if route.idempotency_key:
        params.append(inspect.Parameter("idempotency_key", _KW, annotation=IdempotencyKey, default=None))
    if route.actor == "role_and_department":
        params.append(inspect.Parameter("x_hub_actor_role", _KW, annotation=ActorRole, default=None))
        params.append(
            inspect.Parameter("x_hub_actor_department", _KW, annotation=ActorDepartment, default=None)
        )
        if route.actor_id:
            params.append(inspect.Parameter("x_hub_actor_id", _KW, annotation=ActorId, default=None))
        params.append(inspect.Parameter("x_hub_actor_centre", _KW, annotation=ActorCentre, default=None))
        params.append(inspect.Parameter("x_hub_actor_name", _KW, annotation=ActorName, default=None))
    return params


def _annotated(type_: Any, marker: Any) -> Any:
    """`Annotated[type_, marker]` for a type known only when the route is built."""
    return cast(Any, Annotated)[type_, marker]


async def forward(request: Request, route: Route, values: dict[str, Any]) -> Response:
    """Call the service with the validated request; its answer, as it is, is the client's."""
    assert route.service is not None  # checked when the route was built
    path = route.internal_path.format(**{name: quote(values[name], safe="") for name in route.parameters})
    body = values.get("body")
    json = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
    query: BaseModel | None = values.get("query")
    params = None
    if query is not None:
        # Unset filters are left out (an empty one means no filter to the service as well).
        params = {
            k: v for k, v in query.model_dump(mode="json", by_alias=True).items() if v is not None and v != ""
        }
    upstream: Upstream = request.app.state.upstream
    answer = await upstream.request(
        route.service,
        route.method,
        path,
        principal=principal_of(request),
        json=json,
        params=params,
        headers=_headers(request, route),
    )
    response = Response(
        answer.content, status_code=answer.status_code, media_type=answer.headers.get("content-type")
    )
    if route.no_store:
        response.headers["Cache-Control"] = "no-store"
    if "retry-after" in answer.headers:  # a service's own limit (a 429): when to try again
        response.headers["Retry-After"] = answer.headers["retry-after"]
    return response


def _headers(request: Request, route: Route) -> dict[str, str]:
    """Who acts travels only in the internal credential (gateway/principals.py); intake honours the
    client's Idempotency-Key."""
    headers: dict[str, str] = {}
    if route.service == "intake" and request.headers.get("idempotency-key"):
        headers["Idempotency-Key"] = request.headers["idempotency-key"]
    return headers
