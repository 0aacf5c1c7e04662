"""SMPP 3.4 provider adapter (ESME, bound as a transceiver) over the aiosmpplib asyncio client.

SMPP carries the text itself, not a template code: the text is the request's ``text`` when the
caller rendered it, else our template rendered from the catalog. Chinese text goes out as UCS2
(data_coding 8), 70 characters in one SMS, 67 per part when longer, concatenated with an 8-bit UDH
(aiosmpplib's SAR path is unusable in 0.7.4, and a UDH is what handsets reassemble anyway).

aiosmpplib is queue-driven (a broker it drains, a hook it calls with every response; see
session.py). This module turns that into one awaitable ``send`` per message, with a bounded wait
at every step, and keeps a single session up: bind once, enquire_link while idle, reconnect with
backoff when the link drops. What the SMSC sends us of its own accord (delivery receipts, citizens'
messages) is deliveries.py's.

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
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiosmpplib import (
    DeliverSm,
    DeliverSmResp,
    GenericNack,
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
from services.notification.sms.port import SmsAccepted, SmsRejected, SmsRequest, SmsUnavailable
from services.notification.sms.smpp.addresses import destination_address, source_address
from services.notification.sms.smpp.deliveries import (
    RECEIPT_TTL,
    MessageCallback,
    ReceiptCallback,
    SmscDeliveries,
)
from services.notification.sms.smpp.errors import SmppBindError, SmppOutcomeUnknown, describe
from services.notification.sms.smpp.library_log import LibraryLogBridge
from services.notification.sms.smpp.session import Esme, Hook, NoSelfThrottle, Outbox, Reconnect

# The package's name, as before the adapter was split into modules: log configuration keys on it.
log = logging.getLogger("services.notification.sms.smpp")

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
        self._source = source_address(source_addr)
        self._catalog = catalog or load_default_catalog()
        self._template_ids = {t.provider_code: t.id for t in self._catalog}
        self._submit_timeout = submit_timeout
        self._bind_timeout = bind_timeout
        self._enquire_link_interval = enquire_link_interval
        self._reconnect_delay = reconnect_delay
        self._validity_period = validity_period
        self._library_log_level = library_log_level
        self._deliveries = SmscDeliveries(
            on_receipt=on_receipt,
            on_message=on_message,
            receipt_callback_timeout=receipt_callback_timeout,
            message_callback_timeout=message_callback_timeout,
            smsc_zone=ZoneInfo(smsc_timezone),
        )

        self._esme: Esme | None = None
        self._outbox: Outbox | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._bound = asyncio.Event()
        self._attempt = asyncio.Event()  # replaced after each connect outcome, so waiters wake
        self._last_error: BaseException | None = None
        self._pending: dict[str, _Pending] = {}
        self._by_seq: dict[int, str] = {}

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
        self._outbox = Outbox(self._is_wanted)
        self._esme = Esme(
            self,
            smsc_host=self.host,
            smsc_port=self.port,
            system_id=self._system_id,
            password=self._password,
            system_type=self._system_type,
            enquire_link_interval=float(self._enquire_link_interval),
            socket_timeout=float(self._bind_timeout),
            log_level=self._library_log_level,
            log_handler=LibraryLogBridge(),
            hook=Hook(self),
            broker=self._outbox,
            # Our own waits decide when a caller gives up; the library only sees the throttling.
            throttle_handler=NoSelfThrottle(),
            correlator=SimpleCorrelator(
                self._system_id,
                max_ttl_response=float(max(2 * self._submit_timeout, 1.0)),
                max_ttl_delivery=RECEIPT_TTL,
            ),
            retry_timer=Reconnect(self, *self._reconnect_delay),
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
        return SmsUnavailable(f"smpp: {what}" + (f" (last error: {describe(error)})" if error else ""))

    # -- sending -----------------------------------------------------------------------------

    async def send(self, request: SmsRequest) -> SmsAccepted:
        text = self._text(request)
        parts = len(split_segments(text))
        if parts > _MAX_PARTS:
            raise SmsRejected(f"smpp: message needs {parts} parts, at most {_MAX_PARTS} can be joined")
        destination = destination_address(request.phone)
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

    # -- callbacks from the session (SessionListener) ----------------------------------------

    def on_bound(self) -> None:
        if not self._bound.is_set():
            log.info("smpp: bound to %s:%d as transceiver", self.host, self.port)
        self._last_error = None
        self._bound.set()
        self._attempt.set()
        self._attempt = asyncio.Event()

    def on_bind_failed(self, error: BaseException) -> None:
        self._last_error = error
        self._bound.clear()
        self._attempt.set()
        self._attempt = asyncio.Event()
        log.warning("smpp: cannot bind to %s:%d: %s", self.host, self.port, describe(error))

    def on_session_ended(self) -> None:
        if self._bound.is_set():
            log.warning("smpp: session with %s:%d ended, reconnecting", self.host, self.port)
            self._last_error = self._last_error or ConnectionError("connection to the SMSC lost")
        self._bound.clear()
        self._deliveries.session_ended()
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

    def on_sending(self, message: SmppMessage) -> None:
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

    def on_send_error(self, message: SmppMessage, error: Exception) -> None:
        if isinstance(error, _Abandoned) or not isinstance(message, SubmitSm):
            return
        pending = self._pending.get(message.log_id)
        if pending is None:
            return
        if isinstance(error, TimeoutError) or pending.written:
            self._fail(
                pending, SmppOutcomeUnknown(f"smpp: {describe(error)}; the message may have been sent")
            )
        elif isinstance(error, ValueError):
            self._fail(pending, SmsRejected(f"smpp: message cannot be encoded: {type(error).__name__}"))
        else:
            self._fail(pending, SmsUnavailable(f"smpp: {describe(error)}"))

    async def on_received(self, message: SmppMessage | None) -> None:
        if isinstance(message, SubmitSmResp | GenericNack):
            self._on_submit_answer(message)
        elif isinstance(message, DeliverSm):
            await self._deliveries.received(message)

    def on_answering_deliver_sm(self, answer: DeliverSmResp) -> None:
        self._deliveries.answer_status(answer)

    def _on_submit_answer(self, answer: SubmitSmResp | GenericNack) -> None:
        token = answer.log_id or self._by_seq.get(answer.sequence_num, "")
        pending = self._pending.get(token)
        status = answer.command_status
        if isinstance(answer, SubmitSmResp) and status == SmppCommandStatus.ESME_ROK:
            self._deliveries.remember_ref(token, answer.message_id)
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
