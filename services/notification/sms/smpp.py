"""SMPP 3.4 provider adapter (ESME, bound as a transceiver) over the aiosmpplib asyncio client.

SMPP carries the text itself, not a template code: the text is the request's ``text`` when the
caller rendered it, else our template rendered from the catalog. Chinese text goes out as UCS2
(data_coding 8), 70 characters in one SMS, 67 per part when longer, concatenated with an 8-bit UDH
(aiosmpplib's SAR path is unusable in 0.7.4, and a UDH is what handsets reassemble anyway).

aiosmpplib is queue-driven (a broker it drains, a hook it calls with every response). This module
turns that into one awaitable ``send`` per message, with a bounded wait at every step, and keeps a
single session up: bind once, enquire_link while idle, reconnect with backoff when the link drops.

The SMSC also speaks first, with deliver_sm, whose esm_class message-type bits say what it is: a
delivery receipt (type 1) goes to ``on_receipt``; a citizen's own SMS to our number (type 0, mobile
originated, e.g. a 回访 answer "3") goes to ``on_message``; anything else (SME or user
acknowledgements) is acknowledged and dropped. A citizen's message is acknowledged only once
``on_message`` has returned; if it fails, the deliver_sm_resp says ESME_RX_T_APPN (temporary
application error) and the SMSC delivers it again later. SMPP 3.4 gives a mobile-originated message
no id of its own, so a redelivery (also one after a link drop that lost our deliver_sm_resp)
arrives with the same sender, number, text and user_message_reference: ``on_message`` must be
idempotent on those, which the notification service's inbound path is.

Delivery guarantee: SMPP has no idempotency key. A submit_sm whose submit_sm_resp is lost (link
drop, timeout, crash before the caller records the result) may still be delivered, so a retry can
send it twice; that case raises ``SmppOutcomeUnknown`` (the port's ``SmsOutcomeUnknown``) so
callers can tell it from a message that certainly never left. SMPP cannot be asked by our out-id
(query_sm needs the SMSC's message_id), so this adapter offers no ``SmsLookup``. A message still
queued when its caller gives up is dropped before it reaches the socket, so a timeout before the
write never turns into a late, second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from aiosmpplib import (
    ESME,
    NPI,
    TON,
    AbstractBroker,
    AbstractHook,
    AbstractRetryTimer,
    AbstractThrottleHandler,
    DeliverSm,
    DeliverSmResp,
    GenericNack,
    PhoneNumber,
    SmppCommandStatus,
    SmppError,
    SmppMessage,
    SubmitSm,
    SubmitSmResp,
    Unbind,
)
from aiosmpplib.correlator import SimpleCorrelator

from services.notification.domain.segments import split_segments
from services.notification.domain.templates import TemplateCatalog, TemplateError, load_default_catalog
from services.notification.sms.port import (
    SmsAccepted,
    SmsOutcomeUnknown,
    SmsRejected,
    SmsRequest,
    SmsUnavailable,
)

log = logging.getLogger(__name__)
_library_log = logging.getLogger(__name__ + ".aiosmpplib")

ReceiptStatus = Literal["delivered", "undelivered", "expired", "rejected"]

# Final states of the SMPP 3.4 receipt text (appendix B); ACCEPTD and ENROUTE are not final.
_RECEIPT_STATUS: dict[str, ReceiptStatus] = {
    "DELIVRD": "delivered",
    "UNDELIV": "undelivered",
    "DELETED": "undelivered",
    "UNKNOWN": "undelivered",
    "EXPIRED": "expired",
    "REJECTD": "rejected",
}

# Statuses worth a retry or a failover; any other error status is a refusal of this message.
_TRANSIENT_STATUSES = frozenset(
    {
        SmppCommandStatus.ESME_RTHROTTLED,
        SmppCommandStatus.ESME_RMSGQFUL,
        SmppCommandStatus.ESME_RSYSERR,
        SmppCommandStatus.ESME_RSUBMITFAIL,
        SmppCommandStatus.ESME_RX_T_APPN,
        SmppCommandStatus.ESME_RINVBNDSTS,
        SmppCommandStatus.ESME_RUNKNOWNERR,
    }
)
_BIND_REFUSALS = frozenset(
    {
        SmppCommandStatus.ESME_RINVPASWD,
        SmppCommandStatus.ESME_RINVSYSID,
        SmppCommandStatus.ESME_RBINDFAIL,
        SmppCommandStatus.ESME_RINVSYSTYP,
    }
)
_UDHI = 0b0100_0000
_MAX_PARTS = 255  # the 8-bit concatenation header counts parts in one octet
# Receipts can come days after the submit; the library keeps its side that long too.
_RECEIPT_TTL = 259_200.0
# esm_class bits 2-5 of a deliver_sm (SMPP 3.4 section 5.2.12): what the SMSC is delivering.
_MESSAGE_TYPE_BITS = 0b0011_1100
_MOBILE_ORIGINATED = 0b0000_0000  # default message type: an SMS a handset sent to our number
_DELIVERY_RECEIPT = 0b0000_0100
_USER_MESSAGE_REFERENCE = 0x0204


@dataclass(frozen=True)
class DeliveryReceipt:
    provider_ref: str  # the provider_ref that send() returned
    status: ReceiptStatus
    at: datetime  # when the SMSC reached the final state (UTC)


ReceiptCallback = Callable[[DeliveryReceipt], Awaitable[None]]


@dataclass(frozen=True)
class MobileOriginated:
    """A citizen's SMS to our number (上行短信). Personal data: the sender and the text stay out of
    repr, so a stray log line or traceback cannot show them."""

    sender: str = field(repr=False)  # "+86…" when the SMSC says international, else as delivered
    destination: str  # our number (the service code the citizen replied to)
    text: str = field(repr=False)
    # user_message_reference when the SMSC passes one: two identical texts from one phone with
    # different references are two messages; "" when absent.
    reference: str = ""


MessageCallback = Callable[[MobileOriginated], Awaitable[None]]


class SmppBindError(SmsUnavailable):
    """The SMSC refused our bind (wrong system_id or password): a configuration problem."""


class SmppOutcomeUnknown(SmsOutcomeUnknown):
    """The submit_sm reached the socket but no answer came: the message may have been sent."""


class _Abandoned(ValueError):
    """Raised from the sending hook to drop a message whose caller gave up.

    A ValueError, because aiosmpplib reports that to ``send_error`` and carries on, where any
    other exception would tear the session down.
    """


@dataclass
class _Pending:
    future: asyncio.Future[str]
    parts: int
    written: int = 0  # PDUs handed to the socket
    seqs: list[int] = field(default_factory=list)


class SmppSms:
    """The SMPP provider: ``async with SmppSms(...) as sms: await sms.send(request)``."""

    name = "smpp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        system_id: str,
        password: str,
        on_receipt: ReceiptCallback,
        on_message: MessageCallback | None = None,
        system_type: str = "",
        source_addr: str = "",
        catalog: TemplateCatalog | None = None,
        submit_timeout: float = 10.0,
        bind_timeout: float = 5.0,
        enquire_link_interval: float = 30.0,
        reconnect_delay: tuple[float, float] = (0.5, 30.0),
        receipt_callback_timeout: float = 5.0,
        message_callback_timeout: float = 5.0,
        validity_period: timedelta | None = None,
        smsc_timezone: str = "Asia/Shanghai",
        library_log_level: int = logging.WARNING,
    ) -> None:
        self.host = host
        self.port = port
        self._system_id = system_id
        self._password = password
        self._system_type = system_type
        self._source = _source_address(source_addr)
        self._on_receipt = on_receipt
        self._on_message = on_message
        self._catalog = catalog or load_default_catalog()
        self._template_ids = {t.provider_code: t.id for t in self._catalog}
        self._submit_timeout = submit_timeout
        self._bind_timeout = bind_timeout
        self._enquire_link_interval = enquire_link_interval
        self._reconnect_delay = reconnect_delay
        self._receipt_callback_timeout = receipt_callback_timeout
        self._message_callback_timeout = message_callback_timeout
        self._validity_period = validity_period
        # SMPP 3.4 receipt dates carry no zone: they are the SMSC's local time.
        self._smsc_zone = ZoneInfo(smsc_timezone)
        self._library_log_level = library_log_level

        self._esme: _Esme | None = None
        self._outbox: _Outbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._bound = asyncio.Event()
        self._attempt = asyncio.Event()  # replaced after each connect outcome, so waiters wake
        self._last_error: BaseException | None = None
        self._pending: dict[str, _Pending] = {}
        self._by_seq: dict[int, str] = {}
        self._refs: OrderedDict[str, tuple[float, str]] = OrderedDict()  # token -> (at, provider_ref)
        self._refused: set[int] = set()  # sequence numbers of deliver_sm to answer "try again later"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    async def start(self) -> None:
        """Bind now. Raises SmppBindError when refused, SmsUnavailable when unreachable."""
        self._stopped = False
        self._ensure_running()
        try:
            await self._await_session()
        except SmsUnavailable:
            await self.stop()
            self._stopped = False  # a later send() may try again
            raise

    async def stop(self) -> None:
        """Unbind and close; queued and unanswered sends fail with SmsUnavailable."""
        self._stopped = True
        task, esme = self._task, self._esme
        self._task = self._esme = None
        if task is not None and esme is not None:
            # Bounded: we close regardless, and the SMSC drops the session on its side.
            with contextlib.suppress(TimeoutError, OSError, SmppError):
                await asyncio.wait_for(esme.stop(), max(self._bind_timeout, 2.0))
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._bound.clear()
        for pending in self._pending.values():
            self._fail(pending, SmsUnavailable("smpp: adapter stopped before the SMSC answered"))

    async def __aenter__(self) -> SmppSms:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _ensure_running(self) -> None:
        if self._task is not None and not self._task.done():
            return
        if self._stopped:
            raise SmsUnavailable("smpp: adapter is stopped")
        self._outbox = _Outbox(self._is_wanted)
        self._esme = _Esme(
            self,
            smsc_host=self.host,
            smsc_port=self.port,
            system_id=self._system_id,
            password=self._password,
            system_type=self._system_type,
            enquire_link_interval=float(self._enquire_link_interval),
            socket_timeout=float(self._bind_timeout),
            log_level=self._library_log_level,
            log_handler=_LibraryLogBridge(),
            hook=_Hook(self),
            broker=self._outbox,
            # Our own waits decide when a caller gives up; the library only sees the throttling.
            throttle_handler=_NoSelfThrottle(),
            correlator=SimpleCorrelator(
                self._system_id,
                max_ttl_response=float(max(2 * self._submit_timeout, 1.0)),
                max_ttl_delivery=_RECEIPT_TTL,
            ),
            retry_timer=_Reconnect(self, *self._reconnect_delay),
        )
        self._task = asyncio.create_task(self._esme.start(), name=f"smpp-session-{self.host}:{self.port}")

    async def _await_session(self) -> None:
        """Return once bound; otherwise wait for the next connect attempt, bounded."""
        if self._bound.is_set():
            return
        attempt = self._attempt
        try:
            await asyncio.wait_for(attempt.wait(), self._bind_timeout)
        except TimeoutError:
            raise self._unavailable(f"no session with the SMSC within {self._bind_timeout}s") from None
        if not self._bound.is_set():
            raise self._unavailable("no session with the SMSC")

    def _unavailable(self, what: str) -> SmsUnavailable:
        error = self._last_error
        if isinstance(error, SmppError) and error.command_status in _BIND_REFUSALS:
            status = error.command_status
            return SmppBindError(
                f"smpp: the SMSC refused bind_transceiver for system_id {self._system_id!r}: "
                f"{status.name} ({status.description})"
            )
        return SmsUnavailable(f"smpp: {what}" + (f" (last error: {_describe(error)})" if error else ""))

    # -- sending -----------------------------------------------------------------------------

    async def send(self, request: SmsRequest) -> SmsAccepted:
        text = self._text(request)
        parts = len(split_segments(text))
        if parts > _MAX_PARTS:
            raise SmsRejected(f"smpp: message needs {parts} parts, at most {_MAX_PARTS} can be joined")
        destination = _destination(request.phone)
        self._ensure_running()
        await self._await_session()
        esme = self._esme
        if esme is None:  # stopped while we waited
            raise SmsUnavailable("smpp: adapter is stopped")

        token = uuid.uuid4().hex
        pending = _Pending(asyncio.get_running_loop().create_future(), parts)
        self._pending[token] = pending
        try:
            await esme.broker.enqueue(
                SubmitSm(
                    short_message=text,
                    source=self._source,
                    destination=destination,
                    # Always UDHI: aiosmpplib clears it for a one-part message, and its path
                    # without UDHI (SAR) fails in 0.7.4 with an UnboundLocalError.
                    esm_class=_UDHI,
                    registered_delivery=0b0000_0001,  # a receipt on success and on failure
                    validity_period=self._validity_period,
                    encoding="ucs2",
                    auto_message_payload=False,  # concatenated parts, not one message_payload
                    log_id=token,
                )
            )
            done, _ = await asyncio.wait({pending.future}, timeout=self._submit_timeout)
            if not done:
                pending.future.cancel()  # the outbox and the sending hook drop it if still queued
                if pending.written:
                    raise SmppOutcomeUnknown(
                        f"smpp: no submit_sm_resp within {self._submit_timeout}s; the message may have been sent"
                    )
                raise SmsUnavailable(f"smpp: submit_sm not sent within {self._submit_timeout}s")
            message_id = pending.future.result()
        finally:
            self._pending.pop(token, None)
            for seq in pending.seqs:
                self._by_seq.pop(seq, None)
            if not pending.future.done():
                pending.future.cancel()  # our caller was cancelled
        log.info("smpp: submit accepted provider_ref=%s parts=%d", message_id, parts)
        return SmsAccepted(self.name, message_id)

    def _text(self, request: SmsRequest) -> str:
        if request.text is not None:
            text = request.text
        else:
            template_id = self._template_ids.get(request.template_code)
            if template_id is None:
                raise SmsRejected(f"smpp: no template with provider code {request.template_code!r}")
            try:
                text = self._catalog.render(template_id, request.params, request.sign_name).text
            except TemplateError as exc:
                raise SmsRejected(f"smpp: {exc}") from None
        if not text.strip():
            raise SmsRejected("smpp: empty message text")
        return text

    def _is_wanted(self, message: SmppMessage) -> bool:
        if not isinstance(message, SubmitSm):
            return True
        pending = self._pending.get(message.log_id)
        return pending is not None and not pending.future.done()

    @staticmethod
    def _fail(pending: _Pending, error: Exception) -> None:
        if not pending.future.done():
            pending.future.set_exception(error)

    # -- callbacks from the session ----------------------------------------------------------

    def _on_connected(self) -> None:
        if not self._bound.is_set():
            log.info("smpp: bound to %s:%d as transceiver", self.host, self.port)
        self._last_error = None
        self._bound.set()
        self._attempt.set()
        self._attempt = asyncio.Event()

    def _on_connect_failed(self, error: BaseException) -> None:
        self._last_error = error
        self._bound.clear()
        self._attempt.set()
        self._attempt = asyncio.Event()
        log.warning("smpp: cannot bind to %s:%d: %s", self.host, self.port, _describe(error))

    def _on_session_ended(self) -> None:
        if self._bound.is_set():
            log.warning("smpp: session with %s:%d ended, reconnecting", self.host, self.port)
            self._last_error = self._last_error or ConnectionError("connection to the SMSC lost")
        self._bound.clear()
        self._refused.clear()  # sequence numbers are per session
        # What was written is in doubt now: say so at once instead of at the timeout. What is
        # still queued goes out on the next session if its caller is still waiting.
        for pending in self._pending.values():
            if pending.written:
                self._fail(
                    pending,
                    SmppOutcomeUnknown(
                        "smpp: link lost before submit_sm_resp; the message may have been sent"
                    ),
                )

    def _on_sending(self, message: SmppMessage) -> None:
        if isinstance(message, Unbind) and self._stopped and self._outbox is not None:
            self._outbox.close()  # we are stopping: our unbind is on its way
        if not isinstance(message, SubmitSm):
            return
        pending = self._pending.get(message.log_id)
        if pending is None or pending.future.done():
            if pending is None or not pending.written:
                raise _Abandoned("caller gave up before the message was sent")
            return  # later parts of a message already started: finish it rather than cut it
        pending.written += 1
        pending.seqs.append(message.sequence_num)
        self._by_seq[message.sequence_num] = message.log_id

    def _on_send_error(self, message: SmppMessage, error: Exception) -> None:
        if isinstance(error, _Abandoned) or not isinstance(message, SubmitSm):
            return
        pending = self._pending.get(message.log_id)
        if pending is None:
            return
        if isinstance(error, TimeoutError) or pending.written:
            self._fail(
                pending, SmppOutcomeUnknown(f"smpp: {_describe(error)}; the message may have been sent")
            )
        elif isinstance(error, ValueError):
            self._fail(pending, SmsRejected(f"smpp: message cannot be encoded: {type(error).__name__}"))
        else:
            self._fail(pending, SmsUnavailable(f"smpp: {_describe(error)}"))

    async def _on_received(self, message: SmppMessage | None) -> None:
        if isinstance(message, SubmitSmResp | GenericNack):
            self._on_submit_answer(message)
        elif isinstance(message, DeliverSm):
            kind = message.esm_class & _MESSAGE_TYPE_BITS
            if kind == _DELIVERY_RECEIPT:
                await self._on_receipt_pdu(message)
            elif kind == _MOBILE_ORIGINATED:
                await self._on_message_pdu(message)
            else:
                log.info("smpp: deliver_sm of message type 0x%02X acknowledged and ignored", kind)

    def _on_submit_answer(self, answer: SubmitSmResp | GenericNack) -> None:
        token = answer.log_id or self._by_seq.get(answer.sequence_num, "")
        pending = self._pending.get(token)
        status = answer.command_status
        if isinstance(answer, SubmitSmResp) and status == SmppCommandStatus.ESME_ROK:
            self._remember_ref(token, answer.message_id)
            if pending is not None and not pending.future.done():
                pending.future.set_result(answer.message_id)
            else:
                # Accepted after its caller gave up: a retry of it may send a second copy.
                log.warning(
                    "smpp: late submit_sm_resp, message accepted as provider_ref=%s", answer.message_id
                )
            return
        if pending is None:
            return
        what = f"{status.name} ({status.description})"
        if pending.parts > 1:
            what += f" for a {pending.parts}-part message; earlier parts may have been accepted"
        if status in _TRANSIENT_STATUSES or status == SmppCommandStatus.ESME_ROK:
            self._fail(pending, SmsUnavailable(f"smpp: {what}"))
        else:
            self._fail(pending, SmsRejected(f"smpp: {what}"))

    def _remember_ref(self, token: str, provider_ref: str) -> None:
        if not token:
            return
        now = time.monotonic()
        self._refs[token] = (now, provider_ref)
        while self._refs:
            oldest = next(iter(self._refs.values()))
            if now - oldest[0] <= _RECEIPT_TTL:
                break
            self._refs.popitem(last=False)

    async def _on_receipt_pdu(self, deliver: DeliverSm) -> None:
        fields: dict[str, Any] = deliver.parse_receipt()
        stat = str(fields.get("stat", "")).upper()
        status = _RECEIPT_STATUS.get(stat)
        if status is None:
            log.info("smpp: non-final receipt state %r ignored", stat)
            return
        # Parts of a long message each get a receipt; aiosmpplib folds them into one and tags it
        # with our token, which maps to the part id we returned. After a restart that mapping is
        # gone and the receipt's own id stands in (the same id for a one-part message).
        known = self._refs.pop(deliver.log_id, None) if deliver.log_id else None
        provider_ref = known[1] if known else str(fields.get("id", ""))
        if not provider_ref:
            log.warning("smpp: receipt without a message id ignored")
            return
        receipt = DeliveryReceipt(provider_ref, status, self._receipt_time(fields.get("done date")))
        # Awaited before the library acknowledges the deliver_sm, so a receipt is only acked
        # once recorded; bounded, because it holds up every other PDU on the session meanwhile.
        try:
            await asyncio.wait_for(self._on_receipt(receipt), self._receipt_callback_timeout)
        except Exception as exc:
            # Only the type: a database error's text can quote the values it was given.
            log.error(
                "smpp: receipt callback failed (%s); receipt for provider_ref=%s acknowledged and lost",
                type(exc).__name__,
                provider_ref,
            )

    async def _on_message_pdu(self, deliver: DeliverSm) -> None:
        if self._on_message is None:
            log.warning("smpp: a citizen's message arrived but this adapter has no on_message: dropped")
            return
        message = MobileOriginated(
            sender=_sender(deliver.source),
            destination=deliver.destination.number,
            text=deliver.short_message or deliver.message_payload,
            reference=_user_message_reference(deliver),
        )
        # Awaited before the library answers the deliver_sm: acknowledged only once handled.
        try:
            await asyncio.wait_for(self._on_message(message), self._message_callback_timeout)
        except Exception as exc:
            # The SMSC keeps it and delivers it again; only the error's type is logged, because a
            # database error's text can quote the values (the number, the text) it was given.
            self._refused.add(deliver.sequence_num)
            log.error(
                "smpp: citizen's message not recorded (%s); answered ESME_RX_T_APPN for a redelivery",
                type(exc).__name__,
            )

    def _deliver_sm_status(self, answer: DeliverSmResp) -> None:
        if answer.sequence_num in self._refused:
            self._refused.discard(answer.sequence_num)
            answer.command_status = SmppCommandStatus.ESME_RX_T_APPN

    def _receipt_time(self, done: object) -> datetime:
        if isinstance(done, datetime):
            local = done if done.tzinfo else done.replace(tzinfo=self._smsc_zone)
            return local.astimezone(UTC)
        return datetime.now(UTC)


# -- aiosmpplib extension points -------------------------------------------------------------


class _Esme(ESME):
    """Reports every bind outcome to the adapter, and closes the socket of a failed bind."""

    def __init__(self, owner: SmppSms, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owner = owner

    async def connect(self) -> None:
        try:
            await super().connect()
        except BaseException as exc:
            # aiosmpplib keeps the writer of a refused or timed-out bind; close it ourselves.
            writer: asyncio.StreamWriter | None = self._writer  # type: ignore[has-type]
            self._writer = None
            if writer is not None:
                writer.close()
            if isinstance(exc, Exception):
                self._owner._on_connect_failed(exc)
            raise
        self._owner._on_connected()

    async def _send_data(self, smpp_message: SmppMessage) -> None:
        # The library answers every deliver_sm with ESME_ROK; a message we could not record gets a
        # temporary error instead, so the SMSC delivers it again.
        if isinstance(smpp_message, DeliverSmResp):
            self._owner._deliver_sm_status(smpp_message)
        await super()._send_data(smpp_message)


class _Hook(AbstractHook):
    def __init__(self, owner: SmppSms) -> None:
        self._owner = owner

    async def sending(self, smpp_message: SmppMessage, pdu: bytes, client_id: str) -> None:
        self._owner._on_sending(smpp_message)

    async def received(self, smpp_message: SmppMessage | None, pdu: bytes, client_id: str) -> None:
        await self._owner._on_received(smpp_message)

    async def send_error(self, smpp_message: SmppMessage, error: Exception, client_id: str) -> None:
        self._owner._on_send_error(smpp_message, error)


class _OutboxClosed(ConnectionError):
    """Ends the library's sender task at shutdown, with an error its shutdown expects."""


class _Outbox(AbstractBroker):
    """The library's send queue, skipping messages whose caller has already given up."""

    def __init__(self, wanted: Callable[[SmppMessage], bool]) -> None:
        self._queue: asyncio.Queue[SmppMessage | None] = asyncio.Queue()
        self._wanted = wanted
        self._closed = False

    async def enqueue(self, message: SmppMessage) -> None:
        self._queue.put_nowait(message)

    def close(self) -> None:
        """Wake dequeue() for good, so aiosmpplib's shutdown need not wait 0.5 s for it to time out."""
        self._closed = True
        self._queue.put_nowait(None)

    async def dequeue(self) -> SmppMessage:
        while True:
            message = await self._queue.get()
            if self._closed:
                raise _OutboxClosed("adapter stopping")
            if message is not None and self._wanted(message):
                return message


class _NoSelfThrottle(AbstractThrottleHandler):
    """Never delay in the library: ESME_RTHROTTLED reaches the caller, which retries or fails over."""

    async def throttled(self) -> None:
        pass

    async def not_throttled(self) -> None:
        pass

    async def allow_request(self) -> bool:
        return True

    async def throttle_delay(self) -> float:
        return 0.0


class _Reconnect(AbstractRetryTimer):
    """Backoff between sessions; the library calls wait() whenever a session or bind ends."""

    def __init__(self, owner: SmppSms, min_delay: float, max_delay: float) -> None:
        self._owner = owner
        self._min = min_delay
        self._max = max_delay
        self._next = min_delay

    async def wait(self) -> None:
        self._owner._on_session_ended()
        await asyncio.sleep(self._next)
        self._next = min(self._next * 2, self._max)

    def reset(self) -> None:
        self._next = self._min

    def next_delay(self) -> float:
        return self._next


class _LibraryLogBridge(logging.Handler):
    """Forwards aiosmpplib's log lines to ours, keeping only fields that hold no personal data.

    The library appends a JSON dump of its arguments, which for a failed send includes the whole
    submit_sm (destination number and text); those fields never leave this handler.
    """

    _SAFE_FIELDS = frozenset(
        {
            "smpp_command",
            "command_status",
            "sequence_num",
            "exception",
            "task",
            "reason",
            "parts",
            "smsc_host",
        }
    )
    _DIGIT_RUN = re.compile(r"\d{7,}")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            head, _, tail = record.getMessage().partition(" >>> ")
            try:
                data = json.loads(tail) if tail else {}
            except ValueError:
                data = {}
            safe = {k: v for k, v in data.items() if k in self._SAFE_FIELDS} if isinstance(data, dict) else {}
            text = head + (f" {json.dumps(safe, ensure_ascii=False, default=str)}" if safe else "")
            _library_log.log(
                record.levelno, "%s", self._DIGIT_RUN.sub("<digits>", text), exc_info=record.exc_info
            )
        except Exception:
            self.handleError(record)


# -- helpers ---------------------------------------------------------------------------------


def _destination(phone: str) -> PhoneNumber:
    """Mainland mobiles as international 86…; the SMSC judges validity (ESME_RINVDSTADR)."""
    number = phone.strip().replace(" ", "").replace("-", "")
    international = number.startswith("+")
    digits = number[1:] if international else number
    if not (digits.isascii() and digits.isdigit() and 0 < len(digits) <= 20):
        raise SmsRejected("smpp: destination is not a phone number")
    if not international and len(digits) == 11 and digits.startswith("1"):
        digits, international = "86" + digits, True
    if international:
        return PhoneNumber(digits, TON.INTERNATIONAL, NPI.ISDN)
    return PhoneNumber(digits, TON.UNKNOWN, NPI.ISDN)


def _sender(source: PhoneNumber) -> str:
    if source.ton == TON.INTERNATIONAL and source.number and not source.number.startswith("+"):
        return "+" + source.number
    return source.number


def _user_message_reference(deliver: DeliverSm) -> str:
    for param in deliver.optional_params or []:
        if param.tag == _USER_MESSAGE_REFERENCE:
            return str(param.value)
    return ""


def _source_address(source_addr: str) -> PhoneNumber:
    if not source_addr:
        return PhoneNumber("")  # the SMSC's default for this account
    if source_addr.isascii() and source_addr.isdigit():
        return PhoneNumber(source_addr, TON.UNKNOWN, NPI.ISDN)
    return PhoneNumber(source_addr, TON.ALPHANUMERIC, NPI.UNKNOWN)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "none"
    if isinstance(error, SmppError):
        return f"{error.smpp_command.name}: {error.command_status.name} ({error.command_status.description})"
    if isinstance(error, TimeoutError):
        return "timed out"
    return f"{type(error).__name__}: {error}"
