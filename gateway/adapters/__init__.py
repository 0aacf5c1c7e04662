"""Adapters to the external systems (12345, police 110, court, procuratorate 12309).

One folder per system, each filling in the same skeleton: mapping.py (their fields and codes ↔
ours), webhook.py (their signed pushes in; webhooks.py builds the route of a push that becomes a
case), client.py (our status updates out, in their style, on system_client.py's EnvelopeClient),
simulator.py (a loopback stand-in that speaks like the real thing, on simkit.py). Shared: the
delivery ledger (ledger/), inbound registration (inbound.py), webhook signatures and nonces
(security.py), the four named in registry.py. `install` wires them into the gateway.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from fastapi import FastAPI

from gateway.settings import GatewaySettings
from hub.runtime import ServiceRuntime


def install(runtime: ServiceRuntime[GatewaySettings], app: FastAPI) -> None:
    """Webhook routes, the status-event consumer and the sender loop (the ops views of deliveries
    are rows of the route table)."""
    from gateway.adapters.ledger import QUEUE, TOPIC, Ledger, Policy, Sender
    from gateway.adapters.registry import adapter_specs

    settings = runtime.settings
    specs = adapter_specs()
    enabled = {name: spec for name, spec in specs.items() if spec.base_url(settings)}
    ledger = Ledger(
        {name: spec.outbound for name, spec in enabled.items()},
        {name: spec.not_for_merged for name, spec in enabled.items()},
    )
    # In order: a department's reply and the closure it causes are committed together by referral; handled
    # concurrently, the closure could be recorded (and 归档 delivered) first and the reply skipped as behind.
    runtime.consume(QUEUE, ledger.handlers(), in_order=True)
    policy = Policy(
        max_attempts=settings.adapter_max_attempts,
        base_s=settings.adapter_retry_base_s,
        max_s=settings.adapter_retry_max_s,
        batch=settings.adapter_sender_batch,
        lease=timedelta(seconds=max(settings.lease_s, 3 * settings.adapter_timeout_s)),
    )
    sender = Sender(runtime, {}, policy)
    runtime.db.on_commit(TOPIC, sender.wake)

    async def sender_loop(stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as http:
            sender.clients = {name: spec.make_client(http, settings) for name, spec in enabled.items()}
            await sender.run(stop)

    runtime.background("adapter-sender", sender_loop)
    for spec in specs.values():
        app.include_router(spec.router)
    from gateway.adapters import sms

    app.include_router(sms.router)  # the SMS provider's pushes, on to notification
    app.state.adapter_sender = sender
