"""Notification service: every message to a person or a department system.

`bootstrap(settings)` is what production runs; tests call it with fakes or fixed values for the
keyword arguments (providers, contact registry, clock, policy).

Quiet hours: RULES.md's default (21:00–08:00 Asia/Shanghai, red exempt) everywhere except
``HUB_ENV=test``, where the default is none, so the time of day a test suite runs at cannot change
what it sees; tests of quiet hours pass the policy (and a clock) explicitly.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from hub.app import create_service_app
from hub.config import Environment, Settings
from hub.runtime import ServiceRuntime
from services.notification.api import router
from services.notification.contacts import ContactRegistry, load_contacts
from services.notification.domain.scheduling import NO_QUIET_HOURS, SendingPolicy
from services.notification.domain.templates import load_default_catalog
from services.notification.handlers import NotificationHandlers
from services.notification.inbound import InboundReplies, InboundSms
from services.notification.sender import Sender
from services.notification.settings import NotificationSettings
from services.notification.sms.aliyun import AliyunSms
from services.notification.sms.port import SmsProvider
from services.notification.tables import kit, metadata
from services.notification.verification import Verifier
from services.notification.verification import router as verification_router
from services.notification.webhook import WebhookChannel

log = logging.getLogger("hub.notification")

Clock = Callable[[], datetime]
ProviderFactory = Callable[[NotificationSettings, httpx.AsyncClient], list[SmsProvider]]
SMPP_MODULE = "services.notification.sms.smpp.adapter"


class ProviderConfigError(RuntimeError):
    pass


def utc_now() -> datetime:
    return datetime.now(UTC)


def default_policy(settings: Settings) -> SendingPolicy:
    if settings.env is Environment.test:
        return SendingPolicy(quiet_hours=NO_QUIET_HOURS)
    return SendingPolicy()


class ProviderBridge:
    """What a provider pushes on its own connection (SMPP deliver_sm) → the same paths as its HTTP
    push: receipts to the sender's ledger, citizens' messages to the inbound replies (one parser,
    one dedupe, one record, one event, whichever provider carried them)."""

    def __init__(self) -> None:
        self.sender: Sender | None = None
        self.inbound: InboundReplies | None = None

    async def smpp_receipt(self, receipt: Any) -> None:
        if self.sender is None:
            raise RuntimeError("receipt before the sender exists")
        for _ in range(40):
            outcome = await self.sender.record_receipt(
                out_id=None,
                biz_id=str(receipt.provider_ref),
                success=receipt.status == "delivered",
                code=str(receipt.status).upper(),
                at=receipt.at,
            )
            if outcome != "busy":
                return
            await asyncio.sleep(0.1)  # the receipt overtook our record of the send
        raise RuntimeError("delivery still being recorded")

    async def smpp_message(self, message: Any) -> None:
        """A citizen's SMS over SMPP; raising makes the adapter ask the SMSC to deliver it again."""
        if self.inbound is None:
            raise RuntimeError("message before the inbound path exists")
        await self.inbound.receive(
            InboundSms(
                phone=message.sender,
                content=message.text,
                dest_code=message.destination,
                sequence_id=None,  # SMPP gives none: deduplicated by fingerprint, see inbound.py
                reference=message.reference,
            )
        )


def build_providers(
    settings: NotificationSettings, client: httpx.AsyncClient, bridge: ProviderBridge | None = None
) -> list[SmsProvider]:
    """The providers of HUB_SMS_PROVIDERS, in failover order.

    The SMPP adapter is imported only when configured; if this build lacks it, it is skipped with an
    error at start, and start fails when no provider would be left.
    """
    providers: list[SmsProvider] = []
    for name in settings.sms_providers:
        if name == "aliyun":
            providers.append(
                AliyunSms(
                    client, settings.sms_url, settings.sms_access_key_id, settings.sms_access_key_secret
                )
            )
        elif name == "smpp":
            smpp = _smpp_provider(settings, bridge or ProviderBridge())
            if smpp is not None:
                providers.append(smpp)
    if not providers:
        raise ProviderConfigError(
            f"HUB_SMS_PROVIDERS={list(settings.sms_providers)} leaves no usable SMS provider; see the errors above"
        )
    return providers


def _smpp_provider(settings: NotificationSettings, bridge: ProviderBridge) -> SmsProvider | None:
    try:
        module = importlib.import_module(SMPP_MODULE)
    except ImportError:
        log.error(
            "HUB_SMS_PROVIDERS lists smpp but this build has no SMPP adapter (%s): smpp skipped. "
            "Remove smpp from HUB_SMS_PROVIDERS or deploy a build that includes it.",
            SMPP_MODULE,
        )
        return None
    cls = getattr(module, "SmppSms", None)
    if cls is None:
        log.error("%s has no SmppSms adapter: smpp skipped", SMPP_MODULE)
        return None
    instance: SmsProvider = cls(
        host=settings.smpp_host,
        port=settings.smpp_port,
        system_id=settings.smpp_system_id,
        password=settings.smpp_password,
        on_receipt=bridge.smpp_receipt,
        on_message=bridge.smpp_message,
    )
    return instance


def _start_hooks(providers: list[SmsProvider]) -> list[Callable[[], Awaitable[None]]]:
    """Providers that keep a connection (an SMPP bind) connect at start; a refusal or an unreachable
    gateway is logged, not fatal: the adapter connects again when it is next asked to send."""

    def hook_for(provider: SmsProvider, start: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[None]]:
        async def hook() -> None:
            try:
                await start()
            except Exception as exc:
                log.error("SMS provider %s did not connect at start (%s)", provider.name, type(exc).__name__)

        return hook

    hooks = []
    for provider in providers:
        start = getattr(provider, "start", None)
        if callable(start):
            hooks.append(hook_for(provider, start))
    return hooks


def _stop_hooks(providers: list[SmsProvider]) -> list[Callable[[], Awaitable[Any]]]:
    hooks = []
    for provider in providers:
        stop = getattr(provider, "stop", None) or getattr(provider, "aclose", None)
        if callable(stop):
            hooks.append(stop)
    return hooks


def bootstrap(
    settings: NotificationSettings,
    *,
    providers: ProviderFactory | None = None,
    contacts: ContactRegistry | None = None,
    clock: Clock = utc_now,
    policy: SendingPolicy | None = None,
) -> FastAPI:
    runtime = ServiceRuntime("notification", settings, metadata, kit)
    client = httpx.AsyncClient()
    bridge = ProviderBridge()
    sms_providers = providers(settings, client) if providers else build_providers(settings, client, bridge)
    registry = contacts if contacts is not None else load_contacts()
    policy = policy or default_policy(settings)
    catalog = load_default_catalog()
    handlers = NotificationHandlers(
        cipher=runtime.cipher,
        hash_key=settings.hash_key,
        catalog=catalog,
        contacts=registry,
        policy=policy,
        clock=clock,
    )
    sender = Sender(
        runtime,
        sms_providers,
        catalog,
        contacts=registry,
        webhooks=WebhookChannel(client, clock),
        policy=policy,
        clock=clock,
    )
    inbound = InboundReplies(
        runtime, clock, redelivery_window=timedelta(seconds=settings.sms_inbound_redelivery_window_s)
    )
    bridge.sender, bridge.inbound = sender, inbound
    # Handlers only write rows of their own event (deliveries, contacts): batched (HUB_CONSUMER_BATCH).
    runtime.consume("notification.events", handlers.table(), batch=True)
    runtime.db.on_commit("deliveries", sender.wake)
    runtime.background("sms-sender", sender.run)
    __import__("services.notification.ops_metrics", fromlist=["install"]).install(runtime)  # ops gauges
    app = create_service_app(
        runtime,
        [router, verification_router],
        title="Hub notification",
        on_start=_start_hooks(sms_providers),
        on_stop=[*_stop_hooks(sms_providers), client.aclose],
    )
    app.state.sender = sender
    app.state.handlers = handlers
    app.state.inbound = inbound
    app.state.verifier = Verifier(runtime, sms_providers, catalog, clock)  # issue 18: citizen form codes
    return app
