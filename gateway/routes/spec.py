"""One public route of the gateway as data: what it is, who may call it and where it goes.

A `Route` is either *forwarded* (`service` and `internal` set: the gateway validates the request with
`body`/`query` and passes it to the service, whose answer — problem details included — goes back
unchanged) or *served here* (`handler` set: the gateway answers itself, e.g. the case view that joins
intake and referral, the timeline, the ops views). gateway/routes/table.py lists every /api/v1 route;
gateway/routes/forwarding.py turns them into FastAPI routes and gateway/authorization.py reads the
roles from the same rows, so a route and its permission cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

Service = Literal["intake", "referral"]
Method = Literal["GET", "POST"]
# Row-level scoping the role alone cannot express (gateway/auth/scoping.py):
# - adapter_channel: an adapter registers cases only on its own system's channel;
# - adapter_case: an adapter acts only on cases that came from its own system (others: 404).
Own = Literal["adapter_channel", "adapter_case"]
# How the caller travels to the service:
# - "none": not at all (the case list: referral reads no actor there);
# - "role_and_id": `X-Hub-Actor-Role`/`-Id` as the middleware set them (intake's casework);
# - "role_and_department": `X-Hub-Actor-Role` (default centre) and `-Department`, declared as header
#   parameters; with `actor_id`, `X-Hub-Actor-Id` too (referral, which scopes by department).
ActorPassing = Literal["none", "role_and_id", "role_and_department"]


@dataclass(frozen=True)
class Route:
    method: Method
    path: str  # the public template, e.g. /api/v1/cases/{case_no}/notes
    name: str  # the operation's name (its OpenAPI operationId is derived from it)
    summary: str
    tag: str
    roles: frozenset[str]  # who may call it; nobody if empty
    own: Own | None = None
    description: str | None = None
    status_code: int = 200
    response: Any = None  # response model for the OpenAPI document (None: as the handler declares)
    # forwarded
    service: Service | None = None
    internal: str | None = None  # the service's path, with the same {parameters} (default: mirrored)
    body: Any = None  # request body type: a pydantic model (or dict[str, Any] passed through)
    body_required: bool = True
    body_description: str | None = None
    query: Any = None  # pydantic model of the query parameters
    actor: ActorPassing = "role_and_department"
    actor_id: bool = False
    idempotency_key: bool = False  # declare the `Idempotency-Key` header (intake honours it anyway)
    no_store: bool = False  # personal data: the answer must not be cached
    # served here
    handler: Callable[..., Awaitable[Any]] | None = None

    @property
    def internal_path(self) -> str:
        """Where the service serves it: by default the public path under /internal/v1/."""
        return self.internal or self.path.replace("/api/v1/", "/internal/v1/", 1)

    @property
    def parameters(self) -> list[str]:
        """The {parameter} names of the public template, in order."""
        return [seg[1:-1] for seg in self.path.split("/") if seg.startswith("{") and seg.endswith("}")]


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)
