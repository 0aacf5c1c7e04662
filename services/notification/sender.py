"""The sender: claims due deliveries, calls the provider, records the outcome.

Each send is recorded before the call (status `sending`, a lease, the provider about to be called)
and after it (`sent` with the provider's reference, plus notification.sent.v1 in the same
transaction). A crash in between leaves a `sending` row whose lease expires. Before sending such a
row again the sender asks the provider it was calling whether it already has the message (by our
out-id, see `SmsLookup`); found → recorded as sent, not sent again. A provider that cannot be asked
gets the message again (at-least-once in that window). The row's `recovery` column says which
happened; docs/providers.md states the guarantee per provider.

Citizen messages are checked again at claim time (opt-out, quiet hours, per-phone rate limit):
deferred rows go back to `pending` with a later `not_before`, opted-out ones stop as `opted_out`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import SpanKind
from prometheus_client import Counter
from sqlalchemy import case, or_, select, update

from hub.contracts.notification import NotificationDeliveredV1, NotificationFailedV1, NotificationSentV1
from hub.crypto import DecryptionError
from hub.db import Database
from hub.failpoints import failpoint
from hub.runtime import ServiceRuntime
from hub.tracing import context_from, tracer
from services.notification.contacts import ContactRegistry
from services.notification.domain.scheduling import SendingPolicy, earliest_send
from services.notification.domain.templates import RenderedSms, TemplateCatalog, TemplateError
from services.notification.ledger import aware, opted_out, send_history
from services.notification.settings import NotificationSettings
from services.notification.sms.port import (
    SmsLookup,
    SmsOutcomeUnknown,
    SmsProvider,
    SmsRejected,
    SmsRequest,
    SmsUnavailable,
)
from services.notification.tables import deliveries
from services.notification.webhook import WebhookChannel, WebhookMessage, WebhookRejected, WebhookUnavailable

log = logging.getLogger("hub.notification.sender")

MAX_ATTEMPTS = 5
BACKOFF = (timedelta(seconds=2), timedelta(seconds=10), timedelta(minutes=1), timedelta(minutes=5))
WEBHOOK = "department_webhook"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claimed:
    row: Any
    # The lease of an earlier attempt expired mid-send (or its lookup is still unsettled): the
    # provider may already have the message.
    recovered: bool
    previous_claim_until: datetime | None


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

    # --- claiming --------------------------------------------------------------------------------

    async def _claim(self) -> list[Claimed]:
        now = self.clock()
        t = deliveries
        async with self.rt.db.transaction() as session:
            due = (
                select(t.c.id)
                .where(
                    or_(t.c.status == "pending", (t.c.status == "sending") & (t.c.claimed_until < now)),
                    t.c.not_before <= now,
                )
                .order_by(t.c.not_before, t.c.created_at)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return []
            rows = list(
                await session.execute(
                    select(t).where(t.c.id.in_(ids)).order_by(t.c.not_before, t.c.created_at)
                )
            )
            recovered = {r.id for r in rows if r.status == "sending" or r.recovery == "unsettled"}
            go, defer, stopped = await self._recheck(session, rows, recovered, now)
            if stopped:
                await session.execute(
                    update(t).where(t.c.id.in_(stopped)).values(status="opted_out", claimed_until=None)
                )
                for _ in stopped:
                    self.outcomes.labels("sms", "opted_out").inc()
            for row_id, at in defer.items():
                await session.execute(
                    update(t)
                    .where(t.c.id == row_id)
                    .values(status="pending", not_before=at, claimed_until=None)
                )
                self.outcomes.labels("sms", "deferred").inc()
            if not go:
                return []
            first = self.providers[0].name if self.providers else None
            fresh = [r.id for r in go if r.id not in recovered]
            if fresh:
                # The provider about to be called is recorded with the claim: after a crash the
                # sender knows whom to ask (failover records the next one before calling it).
                await session.execute(
                    update(t)
                    .where(t.c.id.in_(fresh))
                    .values(
                        status="sending",
                        claimed_until=now + self.lease,
                        attempts=t.c.attempts + 1,
                        provider=case((t.c.recipient_kind == WEBHOOK, "webhook"), else_=first),
                    )
                )
            again = [r.id for r in go if r.id in recovered]
            if again:
                await session.execute(
                    update(t)
                    .where(t.c.id.in_(again))
                    .values(status="sending", claimed_until=now + self.lease, attempts=t.c.attempts + 1)
                )
            previous = {r.id: r.claimed_until for r in go}
            order = {r.id: i for i, r in enumerate(go)}
            claimed = (await session.execute(select(t).where(t.c.id.in_(list(order))))).all()
        return [
            Claimed(
                row,
                row.id in recovered,
                aware(previous[row.id]) if previous[row.id] is not None else None,
            )
            for row in sorted(claimed, key=lambda r: order[r.id])
        ]

    async def _recheck(
        self, session: Any, rows: list[Any], recovered: set[str], now: datetime
    ) -> tuple[list[Any], dict[str, datetime], list[str]]:
        """Opt-outs, quiet hours and the rate limit, again, for citizen rows about to be sent."""
        citizen = [r for r in rows if r.recipient_kind == "citizen" and r.id not in recovered]
        hashes = {r.recipient_hash for r in citizen}
        blocked = await opted_out(session, hashes)
        history = await send_history(
            session,
            hashes,
            now=now,
            window=self.policy.rate_limit.window,
            include_scheduled=False,
            exclude={r.id for r in rows},
        )
        go: list[Any] = []
        defer: dict[str, datetime] = {}
        stopped: list[str] = []
        for row in rows:
            if row.recipient_kind == "citizen" and row.id not in recovered:
                if row.recipient_hash in blocked:
                    stopped.append(row.id)
                    continue
                at = earliest_send(now, row.colour, "citizen", history[row.recipient_hash], self.policy)
                if at > now:
                    defer[row.id] = at
                    continue
                history[row.recipient_hash].append(now)
            go.append(row)
        return go, defer, stopped

    # --- sending ---------------------------------------------------------------------------------

    async def _send(self, claimed: Claimed) -> None:
        row = claimed.row
        channel = "webhook" if row.recipient_kind == WEBHOOK else "sms"
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
                await self._failed(row, f"template: {exc}", final=True)
                return
            if channel == "webhook":
                await self._send_webhook(claimed, rendered)
            else:
                await self._send_sms(claimed, rendered)

    async def _send_sms(self, claimed: Claimed, rendered: RenderedSms) -> None:
        row = claimed.row
        try:
            phone = self.rt.cipher.decrypt(row.recipient_enc) or ""
        except DecryptionError:
            await self._failed(row, "recipient cannot be decrypted (unknown key)", final=True)
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
                await self._record_provider(row.id, provider.name)
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
                    await self._unsettled(row, f"{exc}; and could not ask {provider.name}: {lookup_error}")
                    return
                if found is None:
                    errors.append(str(exc))
                    continue
                accepted = found
            except SmsUnavailable as exc:
                errors.append(str(exc))
                continue
            except SmsRejected as exc:
                await self._failed(row, str(exc), final=True, recovery=recovery)
                return
            failpoint("notification.sender.after_provider_before_record")
            await self._sent(row, accepted.provider, accepted.provider_ref, rendered.segments, recovery)
            return
        await self._failed(
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
            (claimed.previous_claim_until - self.lease)
            if claimed.previous_claim_until
            else aware(row.created_at)
        )
        try:
            found = await provider.lookup(request, since - timedelta(minutes=1))
        except SmsUnavailable as exc:
            reason = f"could not ask {row.provider} about an interrupted send: {exc}"
            if row.attempts >= self.max_attempts:
                # Neither sent again (it may be there) nor forgotten: failed, for ops to look at.
                await self._failed(row, reason, final=True, recovery="unconfirmed")
            else:
                await self._unsettled(row, reason)
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
            await self._failed(row, f"no webhook registered for department {row.department}", final=True)
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
            await self._failed(row, str(exc), final=row.attempts >= self.max_attempts, recovery=recovery)
            return
        except WebhookRejected as exc:
            await self._failed(row, str(exc), final=True, recovery=recovery)
            return
        failpoint("notification.sender.after_provider_before_record")
        # The system's 2xx answer is its receipt: delivered.
        await self._sent(row, "webhook", ref, 1, recovery, delivered=True)

    # --- recording -------------------------------------------------------------------------------

    async def _record_provider(self, delivery_id: str, provider: str) -> None:
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(deliveries).where(deliveries.c.id == delivery_id).values(provider=provider)
            )

    async def _unsettled(self, row: Any, reason: str) -> None:
        log.warning("delivery %s attempt %d: %s", row.id, row.attempts, reason)
        async with self.rt.db.transaction() as session:
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id)
                .values(
                    status="pending",
                    recovery="unsettled",
                    not_before=self.clock() + self._delay(row.attempts),
                    last_error=reason[:300],
                    claimed_until=None,
                )
            )

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
        now = self.clock()
        values: dict[str, Any] = {
            "status": "delivered" if delivered else "sent",
            "provider": provider,
            "provider_ref": ref[:100],
            "segments": segments,
            "sent_at": now,
            "claimed_until": None,
            "recovery": recovery,
        }
        if delivered:
            values.update(receipt_status="delivered", receipt_at=now)
        async with self.rt.db.transaction() as session:
            await session.execute(update(deliveries).where(deliveries.c.id == row.id).values(**values))
            event = NotificationSentV1(
                delivery_id=row.id,
                case_no=row.case_no,
                template=row.template,
                recipient_kind=row.recipient_kind,
                provider=provider,
                segments=segments,
            )
            await self.rt.outbox.emit(session, event.TYPE, row.case_no, event.model_dump(mode="json"))
        self.sent += 1
        self.outcomes.labels("webhook" if row.recipient_kind == WEBHOOK else "sms", "sent").inc()

    def _delay(self, attempts: int) -> timedelta:
        return self.backoff[min(max(attempts - 1, 0), len(self.backoff) - 1)]

    async def _failed(self, row: Any, reason: str, *, final: bool, recovery: str | None = None) -> None:
        log.warning("delivery %s attempt %d failed: %s", row.id, row.attempts, reason)
        extra: dict[str, Any] = {"recovery": recovery} if recovery else {}
        async with self.rt.db.transaction() as session:
            if not final:
                await session.execute(
                    update(deliveries)
                    .where(deliveries.c.id == row.id)
                    .values(
                        status="pending",
                        not_before=self.clock() + self._delay(row.attempts),
                        last_error=reason[:300],
                        claimed_until=None,
                        **extra,
                    )
                )
                return
            await session.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id)
                .values(status="failed", last_error=reason[:300], claimed_until=None, **extra)
            )
            await self._emit_failed(session, row, reason)

    async def _emit_failed(self, session: Any, row: Any, reason: str) -> None:
        # Ops are alerted by this event (on the case timeline), the metric and the error log.
        log.error(
            "delivery %s for case %s (%s) failed for good: %s", row.id, row.case_no, row.template, reason
        )
        self.outcomes.labels("webhook" if row.recipient_kind == WEBHOOK else "sms", "failed").inc()
        event = NotificationFailedV1(
            delivery_id=row.id,
            case_no=row.case_no,
            template=row.template,
            recipient_kind=row.recipient_kind,
            reason=reason[:300],
        )
        await self.rt.outbox.emit(session, event.TYPE, row.case_no, event.model_dump(mode="json"))

    # --- delivery receipts -----------------------------------------------------------------------

    async def record_receipt(
        self, *, out_id: str | None, biz_id: str | None, success: bool, code: str, at: datetime | None
    ) -> str:
        """Apply one provider status report. Returns what happened: delivered | resend | failed |
        duplicate | stale | unknown | busy (the row is mid-send: the provider should push again)."""
        t = deliveries
        now = self.clock()
        async with self.rt.db.transaction() as session:
            row = None
            if out_id:
                row = (await session.execute(select(t).where(t.c.id == out_id).with_for_update())).first()
            if row is None and biz_id:
                row = (
                    await session.execute(select(t).where(t.c.provider_ref == biz_id).with_for_update())
                ).first()
            if row is None:
                return "unknown"
            if row.status == "sending":
                return "busy"
            ref_known = row.provider_ref is None or row.provider_ref.startswith("out:")
            current = ref_known or not biz_id or row.provider_ref == biz_id
            receipt = {"receipt_code": code[:64], "receipt_at": at or now}
            if ref_known and biz_id:
                receipt["provider_ref"] = biz_id
            if success:
                if row.status == "delivered":
                    return "duplicate"
                await session.execute(
                    update(t)
                    .where(t.c.id == row.id)
                    .values(status="delivered", receipt_status="delivered", claimed_until=None, **receipt)
                )
                event = NotificationDeliveredV1(
                    delivery_id=row.id,
                    case_no=row.case_no,
                    template=row.template,
                    recipient_kind=row.recipient_kind,
                    provider=row.provider,
                    delivered_at=at or now,
                )
                await self.rt.outbox.emit(session, event.TYPE, row.case_no, event.model_dump(mode="json"))
                self.outcomes.labels("sms", "delivered").inc()
                return "delivered"
            if row.status != "sent" or not current:
                return "stale"  # about an earlier attempt, or already settled
            self.outcomes.labels("sms", "undelivered").inc()
            reason = f"undelivered: {code}"[:300]
            if row.attempts >= self.max_attempts:
                await session.execute(
                    update(t)
                    .where(t.c.id == row.id)
                    .values(status="failed", receipt_status="undelivered", last_error=reason, **receipt)
                )
                await self._emit_failed(session, row, reason)
                return "failed"
            # Not delivered: send again later (the same out-id), through the same failover order.
            await session.execute(
                update(t)
                .where(t.c.id == row.id)
                .values(
                    status="pending",
                    not_before=now + self._delay(row.attempts),
                    receipt_status="undelivered",
                    last_error=reason,
                    **receipt,
                )
            )
            Database.flag(session, "deliveries")
            return "resend"


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
