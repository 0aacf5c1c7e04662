"""The four adapters, one entry each: what it takes outbound, its webhook router, its client, its
simulator. Each system's package fills in the same four parts (gateway/adapters/__init__.py); the
registry names them explicitly, so what is wired in is visible here and to the type checker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import httpx
from fastapi import APIRouter

from gateway.adapters.common import SYSTEMS, SystemClient
from gateway.adapters.court import client as court_client
from gateway.adapters.court import mapping as court_mapping
from gateway.adapters.court import webhook as court_webhook
from gateway.adapters.hotline12345 import client as hotline_client
from gateway.adapters.hotline12345 import mapping as hotline_mapping
from gateway.adapters.hotline12345 import webhook as hotline_webhook
from gateway.adapters.police110 import client as police_client
from gateway.adapters.police110 import mapping as police_mapping
from gateway.adapters.police110 import webhook as police_webhook
from gateway.adapters.procuratorate12309 import client as procuratorate_client
from gateway.adapters.procuratorate12309 import mapping as procuratorate_mapping
from gateway.adapters.procuratorate12309 import webhook as procuratorate_webhook
from gateway.settings import GatewaySettings

ClientFactory = Callable[[httpx.AsyncClient, GatewaySettings], SystemClient]


@dataclass(frozen=True)
class AdapterSpec:
    system: str
    outbound: frozenset[str]  # our updates the system takes
    router: APIRouter
    make_client: ClientFactory
    simulator_module: str
    mapping: ModuleType
    not_for_merged: frozenset[str] = frozenset()  # updates a merged work order does not take

    def base_url(self, settings: GatewaySettings) -> str | None:
        url: str | None = getattr(settings, f"{self.system}_url")
        return url


def _spec(mapping: ModuleType, webhook: ModuleType, make_client: ClientFactory) -> AdapterSpec:
    system: str = mapping.SYSTEM
    return AdapterSpec(
        system=system,
        outbound=frozenset(mapping.OUTBOUND),
        router=webhook.router,
        make_client=make_client,
        simulator_module=f"gateway.adapters.{system}.simulator",
        mapping=mapping,
        not_for_merged=frozenset(getattr(mapping, "NOT_FOR_MERGED", ())),
    )


def adapter_specs() -> dict[str, AdapterSpec]:
    specs = (
        _spec(hotline_mapping, hotline_webhook, hotline_client.make_client),
        _spec(police_mapping, police_webhook, police_client.make_client),
        _spec(court_mapping, court_webhook, court_client.make_client),
        _spec(procuratorate_mapping, procuratorate_webhook, procuratorate_client.make_client),
    )
    return {spec.system: spec for spec in sorted(specs, key=lambda s: SYSTEMS.index(s.system))}


# `hub up --simulators`: (name, module run with `python -m`, port setting) per external system.
SIMULATORS: tuple[tuple[str, str, str], ...] = tuple(
    (system, f"gateway.adapters.{system}.simulator", f"sim_{system}_port") for system in SYSTEMS
)
