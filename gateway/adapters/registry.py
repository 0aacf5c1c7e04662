"""The four adapters, one entry each: what it takes outbound, its webhook router, its client, its
simulator. Modules are imported when the registry is built, never at import time of the gateway."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter

from gateway.adapters.common import SYSTEMS, SystemClient
from hub.config import Settings

ClientFactory = Callable[[httpx.AsyncClient, Settings], SystemClient]


@dataclass(frozen=True)
class AdapterSpec:
    system: str
    outbound: frozenset[str]  # our updates the system takes
    router: APIRouter
    make_client: ClientFactory
    simulator_module: str
    mapping: Any
    not_for_merged: frozenset[str] = frozenset()  # updates a merged work order does not take

    def base_url(self, settings: Settings) -> str | None:
        url: str | None = getattr(settings, f"{self.system}_url")
        return url


def _client_factory(system: str, module: Any) -> ClientFactory:
    def make(http: httpx.AsyncClient, settings: Settings) -> SystemClient:
        client: SystemClient = module.make_client(http, settings)
        return client

    return make


def adapter_specs() -> dict[str, AdapterSpec]:
    specs = {}
    for system in SYSTEMS:
        package = f"gateway.adapters.{system}"
        mapping = importlib.import_module(f"{package}.mapping")
        client = importlib.import_module(f"{package}.client")
        webhook = importlib.import_module(f"{package}.webhook")
        specs[system] = AdapterSpec(
            system=system,
            outbound=frozenset(mapping.OUTBOUND),
            router=webhook.router,
            make_client=_client_factory(system, client),
            simulator_module=f"{package}.simulator",
            mapping=mapping,
            not_for_merged=frozenset(getattr(mapping, "NOT_FOR_MERGED", ())),
        )
    return specs


# `hub up --simulators`: (name, module run with `python -m`, port setting) per external system.
SIMULATORS: tuple[tuple[str, str, str], ...] = tuple(
    (system, f"gateway.adapters.{system}.simulator", f"sim_{system}_port") for system in SYSTEMS
)
