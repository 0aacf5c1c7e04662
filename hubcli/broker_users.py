"""One RabbitMQ user per process, allowed only its own queues and the exchanges it must use
(`hub setup rabbitmq-users`, docs/decisions/0014-least-privilege-deploy.md), over the management API.

What each process does on the broker (hub/messaging/topology.py, consumer.py, publisher.py):
  - declares hub.events (topic) and hub.dlx (direct) at start: configure on both;
  - declares, binds and consumes its own queues, all named `<service>.…` (work queue, `.dlq`,
    `.delay.<ms>`, its `.retry` exchange; the gateway's dead-letter record queue too): configure, write, read on `<service>\\..*`;
  - binds its queues to hub.events (and the gateway's record queue to hub.dlx): read on both;
  - publishes its events to hub.events, retries to its wait queues through its queue's own retry
    exchange (`<queue>.retry`, inside its names) and dead letters to hub.dlx: write on hub.events and
    hub.dlx. Never on the default exchange (amq.default), which routes to every queue by name.
Topic permissions on hub.events limit what it publishes to the event types of its own contracts module
(hub/contracts/<service>.py, "one module per producer"): intake cannot publish referral.dispatched.v1.

Idempotent: an existing user keeps its password unless one is given (AMQP_PASSWORD_<USER>) or a new one
is asked for (rotate); permissions are written only where they differ.
"""

from __future__ import annotations

import importlib
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from hub.config import SERVICES, ServiceName, Settings
from hub.messaging.topology import DLX


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str
    topic_write: str  # routing keys it may publish to the events exchange with
    topic_read: str  # binding keys it may bind with


@dataclass(frozen=True)
class UserOutcome:
    service: ServiceName
    user: str
    created: bool
    password: str | None  # set now (created or rotated); None: unchanged
    changes: tuple[str, ...]


def user_name(service: ServiceName, prefix: str = "hub_") -> str:
    return f"{prefix}{service}"


def password_variable(user: str) -> str:
    return f"AMQP_PASSWORD_{user.upper()}"


def published_event_types(service: ServiceName) -> tuple[str, ...]:
    """The event types of the service's own contracts module: what it may publish."""
    module = importlib.import_module(f"hub.contracts.{service}")
    types = {getattr(value, "TYPE", None) for value in vars(module).values() if isinstance(value, type)}
    return tuple(sorted(t for t in types if isinstance(t, str)))


def _alternatives(*names: str) -> str:
    return "^(" + "|".join(re.escape(n) for n in names) + ")$"


def permissions_for(service: ServiceName, exchange: str = "hub.events") -> Permissions:
    own = re.escape(f"{service}.") + ".*"
    exchanges = [re.escape(exchange), re.escape(DLX)]
    return Permissions(
        configure="^(" + "|".join([own, *exchanges]) + ")$",
        write="^(" + "|".join([own, *exchanges]) + ")$",
        read="^(" + "|".join([own, *exchanges]) + ")$",
        topic_write=_alternatives(*published_event_types(service)),
        topic_read=".*",
    )


async def ensure_users(
    api_url: str,
    admin: tuple[str, str],
    *,
    vhost: str = "/",
    services: tuple[ServiceName, ...] = SERVICES,
    prefix: str = "hub_",
    rotate: bool = False,
    exchange: str = Settings.model_fields["exchange"].default,
    environ: dict[str, str] | None = None,
) -> list[UserOutcome]:
    environ = dict(os.environ) if environ is None else environ
    api_url = api_url.rstrip("/")
    if not api_url.endswith("/api"):
        api_url += "/api"
    async with httpx.AsyncClient(base_url=api_url, auth=admin, timeout=30) as api:
        return [
            await _ensure_one(api, vhost, service, user_name(service, prefix), rotate, exchange, environ)
            for service in services
        ]


async def _ensure_one(
    api: httpx.AsyncClient,
    vhost: str,
    service: ServiceName,
    user: str,
    rotate: bool,
    exchange: str,
    environ: dict[str, str],
) -> UserOutcome:
    changes: list[str] = []
    v, u = quote(vhost, safe=""), quote(user, safe="")
    given = environ.get(password_variable(user))
    found = await api.get(f"/users/{u}")
    created = found.status_code == 404
    if not created:
        found.raise_for_status()
    password: str | None = None
    if created or given or rotate:
        password = given or secrets.token_urlsafe(24)
        # No tags: the user reaches the broker over AMQP only, never the management UI or API.
        (await api.put(f"/users/{u}", json={"password": password, "tags": ""})).raise_for_status()
        changes.append("user created" if created else "password set")
    elif found.json().get("tags"):
        body = {"password_hash": found.json()["password_hash"], "tags": ""}
        body["hashing_algorithm"] = found.json().get("hashing_algorithm", "rabbit_password_hashing_sha256")
        (await api.put(f"/users/{u}", json=body)).raise_for_status()
        changes.append("tags removed")
    wanted = permissions_for(service, exchange)
    resource = {"configure": wanted.configure, "write": wanted.write, "read": wanted.read}
    if await _current(api, f"/permissions/{v}/{u}") != resource:
        (await api.put(f"/permissions/{v}/{u}", json=resource)).raise_for_status()
        changes.append("permissions set")
    topic = {"exchange": exchange, "write": wanted.topic_write, "read": wanted.topic_read}
    current_topics = await _current(api, f"/topic-permissions/{v}/{u}", many=True)
    if [t for t in current_topics if t.get("exchange") == exchange] != [topic]:
        (await api.put(f"/topic-permissions/{v}/{u}", json=topic)).raise_for_status()
        changes.append("topic permissions set")
    return UserOutcome(service, user, created, password, tuple(changes))


async def _current(api: httpx.AsyncClient, path: str, *, many: bool = False) -> Any:
    response = await api.get(path)
    if response.status_code == 404:
        return [] if many else None
    response.raise_for_status()
    body = response.json()
    if many:
        return [{k: t.get(k) for k in ("exchange", "write", "read")} for t in body]
    return {k: body.get(k) for k in ("configure", "write", "read")}
