"""The sender: claims due deliveries (claiming.py), calls the provider or the unit's webhook,
records the outcome (delivery_records.py); receipts that come later are receipts.py's.

Each send is recorded before the call (status `sending`, a lease, the provider about to be called)
and after it (`sent` with the provider's reference, plus notification.sent.v1 in the same
transaction). A crash in between leaves a `sending` row whose lease expires. Before sending such a
row again the sender asks the provider it was calling whether it already has the message (by our
out-id, see `SmsLookup`); found → recorded as sent, not sent again. A provider that cannot be asked
gets the message again (at-least-once in that window). The row's `recovery` column says which
happened; docs/providers.md states the guarantee per provider.

Citizen messages are checked again at claim time (opt-out, quiet hours, per-phone rate limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from prometheus_client import Counter

from hub.crypto import DecryptionError
from hub.failpoints import failpoint
from hub.runtime import ServiceRuntime
from hub.tracing import context_from, tracer
from services.notification.claiming import Claimed, claim_due
from services.notification.contacts import ContactRegistry
from services.notification.delivery_records import DeliveryRecords, channel_of
from services.notification.domain.scheduling import SendingPolicy
from services.notification.domain.templates import RenderedSms, TemplateCatalog, TemplateError
from services.notification.receipts import apply_receipt
from services.notification.settings import NotificationSettings
from services.notification.sms.port import (
    SmsLookup,
    SmsOutcomeUnknown,
    SmsProvider,
    SmsRejected,
    SmsRequest,
    SmsUnavailable,
)
from services.notification.tables import delivery_aad
from services.notification.webhook import WebhookChannel, WebhookMessage, WebhookRejected, WebhookUnavailable

log = logging.getLogger("hub.notification.sender")

MAX_ATTEMPTS = 5
BACKOFF = (timedelta(seconds=2), timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5))


def utc_now() -> datetime:
    return datetime.now(UTC)


class Sender:
    def __init__(
        self,
        rt: ServiceRuntime[NotificationSettings],
        providers: list[SmsProvider],
        catalog: TemplateCatalog,
        *,
        contacts: ContactRegistry | None = None,
        webhooks: WebhookChannel | None = None,
        policy: SendingPolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        batch: int = 50,
        max_attempts: int = MAX_ATTEMPTS,
        backoff: tuple[timedelta, ...] = BACKOFF,
    ) -> None:
        self.rt = rt
        self.providers = providers
        self.catalog = catalog
        self.contacts = contacts
        self.webhooks = webhooks
        self.policy = policy or SendingPolicy()
        self.clock = clock
        self.batch = batch
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.lease = timedelta(seconds=rt.settings.lease_s)
        self._wake = asyncio.Event()
        self.sent = 0
        self.outcomes = Counter(
            "hub_notification_deliveries_total",
            "Delivery outcomes by channel (sms, webhook); failed ones are also notification.failed.v1",
            ["channel", "outcome"],
            registry=rt.metrics.registry,
        )
        # The backoff is read at each failure (through _delay), so a change to it takes effect.
        self.records = DeliveryRecords(rt, clock=clock, retry_delay=self._delay, outcomes=self.outcomes)

    def wake(self) -> None:
        self._wake.set()

    def _provider(self, name: str | None) -> SmsProvider | None:
        return next((p for p in self.providers if p.name == name), None)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            done = await self.send_due()
            if done == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.rt.settings.relay_idle_poll_s)

    async def send_due(self) -> int:
        claimed = await self._claim()
        if claimed:
            results = await asyncio.gather(*(self._send(c) for c in claimed), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    log.error(
                        "sender: a send failed unexpectedly (%s); its lease will expire",
                        type(result).__name__,
                    )
        return len(claimed)

    async def _claim(self) -> list[Claimed]:
        return await claim_due(
            self.rt.db,
            now=self.clock(),
            batch=self.batch,
            lease=self.lease,
            policy=self.policy,
            first_provider=self.providers[0].name if self.providers else None,
            outcomes=self.outcomes,
        )

    # --- sending ---------------------------------------------------------------------------------

    async def _send(self, claimed: Claimed) -> None:
        row = claimed.row
        channel = channel_of(row)
        with tracer("hub.notification").start_as_current_span(
            f"{channel} send {row.template}",
            context=context_from(row.traceparent),
            kind=SpanKind.CLIENT,
            attributes={
                "hub.case_no": row.case_no or "",
                "hub.template": row.template,
                "hub.department": row.department or "",
                "hub.delivery_id": row.id,
            },
        ):
            try:
                rendered = self.catalog.render(row.template, row.params, self.rt.settings.sms_sign_name)
            except TemplateError as exc:
                await self.records.failed(row, f"template: {exc}", final=True)
                return
            if channel == "webhook":
                await self._send_webhook(claimed, rendered)
            else:
                await self._send_sms(claimed, rendered)

    async def _send_sms(self, claimed: Claimed, rendered: RenderedSms) -> None:
        row = claimed.row
        try:
            phone = self.rt.cipher.decrypt(row.recipient_enc, aad=delivery_aad(row.id)) or ""
        except DecryptionError:
            await self.records.failed(
                row, "recipient cannot be decrypted (unknown key, or not this row's value)", final=True
            )
            return
        request = _request(row.id, phone, rendered)
        recovery: str | None = None
        if claimed.recovered:
            settled, recovery = await self._recover(claimed, request, rendered.segments)
            if settled:
                return
        errors: list[str] = []
        current = row.provider
        for provider in self.providers:  # failover in configured order
            if provider.name != current:
                await self.records.provider(row.id, provider.name)
                current = provider.name
            started = self.clock()
            try:
                accepted = await provider.send(request)
            except SmsOutcomeUnknown as exc:
                if not isinstance(provider, SmsLookup):
                    errors.append(str(exc))  # cannot be asked: the next provider (at-least-once)
                    continue
                try:
                    found = await provider.lookup(request, started - timedelta(minutes=1))
                except SmsUnavailable as lookup_error:
                    await self.records.unsettled(
                        row, f"{exc}; and could not ask {provider.name}: {lookup_error}"
                    )
                    return
                if found is None:
                    errors.append(str(exc))
                    continue
                accepted = found
            except SmsUnavailable as exc:
                errors.append(str(exc))
                continue
            except SmsRejected as exc:
                await self.records.failed(row, str(exc), final=True, recovery=recovery)
                return
            failpoint("notification.sender.after_provider_before_record")
            await self._sent(row, accepted.provider, accepted.provider_ref, rendered.segments, recovery)
            return
        await self.records.failed(
            row,
            "; ".join(errors) or "no provider configured",
            final=row.attempts >= self.max_attempts,
            recovery=recovery,
        )

    async def _recover(self, claimed: Claimed, request: SmsRequest, segments: int) -> tuple[bool, str | None]:
        """Settle a send whose outcome was lost. (True, _) when nothing more is to be done now."""
        row = claimed.row
        provider = self._provider(row.provider)
        if not isinstance(provider, SmsLookup):
            log.warning(
                "delivery %s (case %s): a send via %s was interrupted and %s cannot be asked; "
                "sending again (at-least-once)",
                row.id,
                row.case_no,
                row.provider,
                row.provider,
            )
            self.outcomes.labels("sms", "resent_unconfirmed").inc()
            return False, "resent_unconfirmed"
        since = (
            (claimed.previous_claim_until - self.lease) if claimed.previous_claim_until else row.created_at
        )
        try:
            found = await provider.lookup(request, since - timedelta(minutes=1))
        except SmsUnavailable as exc:
            reason = f"could not ask {row.provider} about an interrupted send: {exc}"
            if row.attempts >= self.max_attempts:
                # Neither sent again (it may be there) nor forgotten: failed, for ops to look at.
                await self.records.failed(row, reason, final=True, recovery="unconfirmed")
            else:
                await self.records.unsettled(row, reason)
            return True, None
        if found is not None:
            log.warning(
                "delivery %s (case %s): an interrupted send is at %s already; recorded, not sent again",
                row.id,
                row.case_no,
                row.provider,
            )
            self.outcomes.labels("sms", "confirmed_by_lookup").inc()
            await self._sent(row, found.provider, found.provider_ref, segments, "confirmed_by_lookup")
            return True, None
        self.outcomes.labels("sms", "resent_after_lookup").inc()
        return False, "resent_after_lookup"

    async def _send_webhook(self, claimed: Claimed, rendered: RenderedSms) -> None:
        row = claimed.row
        hook = self.contacts.webhook(row.department or "") if self.contacts else None
        if hook is None or self.webhooks is None:
            await self.records.failed(
                row, f"no webhook registered for department {row.department}", final=True
            )
            return
        recovery = None
        if claimed.recovered:
            # Hub-style receivers deduplicate on X-Hub-Delivery; robots cannot.
            recovery = "resent_with_idempotency_key" if hook.style == "hub" else "resent_unconfirmed"
        message = WebhookMessage(
            delivery_id=row.id,
            case_no=row.case_no,
            department=row.department,
            template=row.template,
            title=self.catalog.get(row.template).title,
            text=rendered.text,
            params=rendered.params,
        )
        try:
            ref = await self.webhooks.send(hook, message)
        except WebhookUnavailable as exc:
            await self.records.failed(
                row, str(exc), final=row.attempts >= self.max_attempts, recovery=recovery
            )
            return
        except WebhookRejected as exc:
            await self.records.failed(row, str(exc), final=True, recovery=recovery)
            return
        failpoint("notification.sender.after_provider_before_record")
        # The system's 2xx answer is its receipt: delivered.
        await self._sent(row, "webhook", ref, 1, recovery, delivered=True)

    # --- recording (delivery_records.py, receipts.py) -------------------------------------------

    async def _sent(
        self,
        row: Any,
        provider: str,
        ref: str,
        segments: int,
        recovery: str | None,
        *,
        delivered: bool = False,
    ) -> None:
        await self.records.sent(row, provider, ref, segments, recovery, delivered=delivered)
        self.sent += 1

    def _delay(self, attempts: int) -> timedelta:
        return self.backoff[min(max(attempts - 1, 0), len(self.backoff) - 1)]

    async def record_receipt(
        self, *, out_id: str | None, biz_id: str | None, success: bool, code: str, at: datetime | None
    ) -> str:
        """Apply one provider status report. Returns what happened: delivered | resend | failed |
        duplicate | stale | unknown | busy (the row is mid-send: the provider should push again)."""
        return await apply_receipt(
            self.records,
            out_id=out_id,
            biz_id=biz_id,
            success=success,
            code=code,
            at=at,
            max_attempts=self.max_attempts,
        )


def _request(out_id: str, phone: str, rendered: RenderedSms) -> SmsRequest:
    fields = {f.name for f in dataclasses.fields(SmsRequest)}
    extra: dict[str, Any] = {"text": rendered.text} if "text" in fields else {}  # full text for SMPP
    return SmsRequest(
        out_id=out_id,
        phone=phone,
        sign_name=rendered.sign_name,
        template_code=rendered.template_code,
        params=rendered.params,
        **extra,
    )
