"""Loopback SMSC simulator speaking SMPP 3.4 over TCP, for testing the SMPP adapter for real.

It has its own small PDU codec (pdu.py), independent of the client library. Like an SMSC it:
checks system_id and password on bind_transceiver (and closes the link on a refusal); takes
submit_sm in UCS2 or the default alphabet, at most 140 octets of short_message per PDU (70 UCS2
characters, 67 per part after a concatenation header), joined by UDH or by SAR parameters; refuses
destinations that are not mainland mobiles (ESME_RINVDSTADR); answers with a message_id per PDU
and, shortly after, sends one delivery receipt per part ("id:… stat:DELIVRD …"), resending those
not acknowledged when the same account binds again; answers enquire_link and unbind. It also
delivers citizens' own SMS (mobile originated) as deliver_sm of the default message type, keeps each
until the client answers ESME_ROK, delivers it again after a temporary error
(`mo_retry_delay`) and again on the next bind when the link dropped before the answer, as an SMSC
does: SMPP 3.4 gives such a message no id of its own, so a redelivery carries the same sender,
text and user_message_reference, under a new sequence number.

    async with SmppSimulator(port=0, system_id="hub", password="secret") as sim:
        ...  # connect to 127.0.0.1:sim.port
        sim.fail_next(2, ESME_RTHROTTLED)  # or sim.stall_next(1): no answer at all
        await sim.wait_until(lambda: len(sim.received) == 1)
        mo = await sim.deliver_mo("+8613800138000", "3")  # a citizen replies
        sim.lose_next_mo_ack()  # the next answer to a citizen's message is lost with the link
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

from services.notification.sms.smpp.simulator.deliver_sm import (
    ReceiptStat,
    mobile_originated_body,
    receipt_body,
)
from services.notification.sms.smpp.simulator.pdu import (
    BIND_RECEIVER,
    BIND_TRANSCEIVER,
    BIND_TRANSMITTER,
    DELIVER_SM,
    ENQUIRE_LINK,
    ESME_RALYBND,
    ESME_RBINDFAIL,
    ESME_RINVBNDSTS,
    ESME_RINVCMDID,
    ESME_RINVCMDLEN,
    ESME_RINVPASWD,
    ESME_RINVSYSID,
    ESME_ROK,
    ESME_RSYSERR,
    GENERIC_NACK,
    HEADER,
    MAX_PDU,
    RESPONSE,
    SUBMIT_SM,
    UNBIND,
    PduError,
    ShortMessage,
    c_string,
    encode_pdu,
    parse_bind,
    parse_short_message,
)
from services.notification.sms.smpp.simulator.reassembly import Reassembler, ReceivedSms

log = logging.getLogger("services.notification.sms.smpp.simulator")


@dataclass
class _Delivery:
    """A deliver_sm the SMSC keeps until the account answers ESME_ROK."""

    system_id: str
    body: bytes
    kind: Literal["receipt", "mo"]


@dataclass(eq=False)  # identity: sessions live in a set
class _Session:
    writer: asyncio.StreamWriter
    system_id: str = ""
    bound: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SmppSimulator:
    """One SMSC account on 127.0.0.1; `port=0` picks a free port, read back from `sim.port`.

    Test-facing state: `received` (complete messages), `submits`, `enquire_links`,
    `bind_results`, `receipts_acknowledged`, `bound_sessions`; `receipt_status` sets the final
    state of the next receipts. Citizens' messages: `deliver_mo()` sends one, `mo_sent` lists the
    id of every deliver_sm written for one (a redelivery repeats the id), `mo_acknowledged` and
    `mo_refused` (id, command_status) the answers.
    """

    def __init__(
        self,
        *,
        system_id: str,
        password: str,
        host: str = "127.0.0.1",
        port: int = 0,
        receipt_delay: float = 0.05,
        receipt_status: ReceiptStat = "DELIVRD",
        timezone: str = "Asia/Shanghai",
        mo_retry_delay: float = 0.2,
    ) -> None:
        self.host = host
        self.port = port
        self.system_id = system_id
        self.password = password
        self.receipt_delay = receipt_delay
        self.receipt_status: ReceiptStat = receipt_status
        self.mo_retry_delay = mo_retry_delay
        self.zone = ZoneInfo(timezone)
        self.received: list[ReceivedSms] = []
        self.submits = 0  # submit_sm PDUs seen, accepted or not
        self.enquire_links = 0
        self.bind_results: list[tuple[str, int]] = []  # (system_id, command_status)
        self.receipts_acknowledged: list[str] = []  # message ids
        self.mo_sent: list[str] = []  # ids of citizens' messages, once per deliver_sm written
        self.mo_acknowledged: list[str] = []
        self.mo_refused: list[tuple[str, int]] = []  # (id, command_status of the answer)
        self._lose_mo_acks = 0
        self._fail_count = 0
        self._fail_status = ESME_RSYSERR
        self._stall_count = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._reassembler = Reassembler()
        self._unacked: dict[str, _Delivery] = {}  # message or MO id -> deliver_sm not yet acknowledged
        self._in_flight: dict[tuple[int, int], str] = {}  # (session id, sequence) -> message_id
        self._timers: set[asyncio.TimerHandle] = set()
        self._sequence = itertools.count(1)
        self._changed = asyncio.Event()

    # -- control -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("smpp-sim: listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Stop like a crashed SMSC: the listener and every link close at once."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions):
            session.writer.transport.abort()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._notify()

    async def __aenter__(self) -> SmppSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def fail_next(self, count: int, status: int = ESME_RSYSERR) -> None:
        """Answer the next `count` submit_sm PDUs with `status` instead of accepting them."""
        self._fail_count = count
        self._fail_status = status

    def stall_next(self, count: int) -> None:
        """Swallow the next `count` submit_sm PDUs without any answer, like an overloaded SMSC."""
        self._stall_count = count

    def lose_next_mo_ack(self, count: int = 1) -> None:
        """The next `count` answers to a citizen's message are lost: the link drops as each arrives,
        so the message stays unacknowledged and is delivered again when the account binds again."""
        self._lose_mo_acks = count

    async def deliver_mo(
        self, phone: str, text: str, *, to: str = "10690001", reference: int | None = None
    ) -> str:
        """A citizen's SMS from `phone` to our number `to`, sent to the account as a deliver_sm
        (now if it is bound, else when it binds); returns the simulator's id for it.

        Text that is all ASCII goes in the default alphabet (data_coding 0), anything else in UCS2,
        as a handset's SMSC would deliver it; `reference` becomes user_message_reference.
        """
        body = mobile_originated_body(phone, text, to=to, reference=reference)
        mo_id = f"mo{uuid.uuid4().hex[:13]}"
        delivery = _Delivery(self.system_id, body, "mo")
        self._unacked[mo_id] = delivery
        session = self._bound_session(self.system_id)
        if session is not None:
            await self._send_delivery(session, delivery)
        return mo_id

    @property
    def bound_sessions(self) -> int:
        return sum(1 for s in self._sessions if s.bound)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate()` holds, re-checked whenever the simulator's state changes."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if predicate():
                    return
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # -- protocol ----------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(writer)
        self._sessions.add(session)
        try:
            while True:
                header = await reader.readexactly(HEADER.size)
                length, command_id, status, sequence = HEADER.unpack(header)
                if not HEADER.size <= length <= MAX_PDU:
                    await self._write(session, encode_pdu(GENERIC_NACK, ESME_RINVCMDLEN, sequence))
                    return
                body = await reader.readexactly(length - HEADER.size)
                if not await self._handle(session, command_id, status, sequence, body):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._sessions.discard(session)
            # Unanswered deliveries of this link stay unacknowledged, for the next bind.
            for flight in [f for f in self._in_flight if f[0] == id(session)]:
                del self._in_flight[flight]
            with contextlib.suppress(Exception):
                writer.close()
            self._notify()

    async def _handle(
        self, session: _Session, command_id: int, status: int, sequence: int, body: bytes
    ) -> bool:
        """Answer one PDU; False closes the link."""
        if command_id in (BIND_TRANSCEIVER, BIND_TRANSMITTER, BIND_RECEIVER):
            return await self._bind(session, command_id, sequence, body)
        if command_id == ENQUIRE_LINK:
            self.enquire_links += 1
            await self._write(session, encode_pdu(ENQUIRE_LINK | RESPONSE, ESME_ROK, sequence))
            self._notify()
            return True
        if command_id == UNBIND:
            await self._write(session, encode_pdu(UNBIND | RESPONSE, ESME_ROK, sequence))
            return False
        if command_id == DELIVER_SM | RESPONSE:
            return self._delivery_answered(session, sequence, status)
        if command_id & RESPONSE:
            return True  # a response we did not ask for (or a generic_nack): nothing to answer
        if command_id == SUBMIT_SM:
            if not session.bound:
                await self._write(session, encode_pdu(SUBMIT_SM | RESPONSE, ESME_RINVBNDSTS, sequence))
                return True
            await self._submit(session, sequence, body)
            return True
        await self._write(session, encode_pdu(GENERIC_NACK, ESME_RINVCMDID, sequence))
        return True

    async def _bind(self, session: _Session, command_id: int, sequence: int, body: bytes) -> bool:
        response = command_id | RESPONSE
        try:
            bind = parse_bind(body)
        except PduError as exc:
            await self._write(session, encode_pdu(GENERIC_NACK, exc.status, sequence))
            return False
        if session.bound:
            result = ESME_RALYBND
        elif command_id != BIND_TRANSCEIVER:
            result = ESME_RBINDFAIL  # receipts need the transceiver session this SMSC offers
        elif bind.system_id != self.system_id:
            result = ESME_RINVSYSID
        elif bind.password != self.password:
            result = ESME_RINVPASWD
        else:
            result = ESME_ROK
        self.bind_results.append((bind.system_id, result))
        await self._write(session, encode_pdu(response, result, sequence, c_string("SIMSMSC")))
        self._notify()
        if result == ESME_RALYBND:
            return True
        if result != ESME_ROK:
            log.info("smpp-sim: bind refused for system_id %r (status 0x%08X)", bind.system_id, result)
            return False
        session.system_id = bind.system_id
        session.bound = True
        for delivery in [d for d in self._unacked.values() if d.system_id == bind.system_id]:
            await self._send_delivery(session, delivery)
        return True

    async def _submit(self, session: _Session, sequence: int, body: bytes) -> None:
        self.submits += 1
        if self._stall_count > 0:
            self._stall_count -= 1
            self._notify()
            return
        try:
            if self._fail_count > 0:
                self._fail_count -= 1
                raise PduError(self._fail_status, "failure injected by the test")
            message = parse_short_message(body)
            message_id, whole = self._reassembler.accept(session.system_id, message)
        except PduError as exc:
            log.info("smpp-sim: submit_sm refused with status 0x%08X: %s", exc.status, exc)
            await self._write(session, encode_pdu(SUBMIT_SM | RESPONSE, exc.status, sequence, c_string("")))
            self._notify()
            return
        if whole is not None:
            self.received.append(whole)
            log.info(
                "smpp-sim: message received in %d part(s), first id %s",
                len(whole.message_ids),
                whole.message_ids[0],
            )
        await self._write(session, encode_pdu(SUBMIT_SM | RESPONSE, ESME_ROK, sequence, c_string(message_id)))
        wanted = message.registered_delivery & 0x03  # 1: always, 2: on failure only
        if wanted == 1 or (wanted == 2 and self.receipt_status != "DELIVRD"):
            self._schedule_receipt(session.system_id, message, message_id)
        self._notify()

    # -- receipts ----------------------------------------------------------------------------

    def _schedule_receipt(self, system_id: str, message: ShortMessage, message_id: str) -> None:
        body = receipt_body(message, message_id, self.receipt_status, self.zone)
        receipt = _Delivery(system_id, body, "receipt")
        self._unacked[message_id] = receipt
        self._send_later(receipt, self.receipt_delay)

    # -- deliveries to the account (receipts and citizens' messages) -----------------------------

    def _bound_session(self, system_id: str) -> _Session | None:
        return next((s for s in self._sessions if s.bound and s.system_id == system_id), None)

    def _send_later(self, delivery: _Delivery, delay: float) -> None:
        def due() -> None:
            self._timers.discard(timer)
            session = self._bound_session(delivery.system_id)
            if session is not None:  # otherwise it goes out when the account binds again
                task = asyncio.get_running_loop().create_task(self._send_delivery(session, delivery))
                task.add_done_callback(_log_failure)

        timer = asyncio.get_running_loop().call_later(delay, due)
        self._timers.add(timer)

    async def _send_delivery(self, session: _Session, delivery: _Delivery) -> None:
        key = next((k for k, d in self._unacked.items() if d is delivery), None)
        if key is None:
            return
        if any(sid == id(session) and k == key for (sid, _), k in self._in_flight.items()):
            return  # already written on this session and not answered yet
        sequence = next(self._sequence)
        self._in_flight[(id(session), sequence)] = key
        if delivery.kind == "mo":
            self.mo_sent.append(key)
        with contextlib.suppress(ConnectionError):
            await self._write(session, encode_pdu(DELIVER_SM, ESME_ROK, sequence, delivery.body))
        self._notify()

    def _delivery_answered(self, session: _Session, sequence: int, status: int) -> bool:
        """Handle a deliver_sm_resp; False drops the link (an answer lost on the way)."""
        key = self._in_flight.pop((id(session), sequence), None)
        delivery = self._unacked.get(key) if key is not None else None
        if key is None or delivery is None:
            return True
        if delivery.kind == "mo" and self._lose_mo_acks > 0:
            self._lose_mo_acks -= 1
            log.info("smpp-sim: answer to citizen's message %s lost, dropping the link", key)
            session.writer.transport.abort()
            self._notify()
            return False
        if status == ESME_ROK:
            del self._unacked[key]
            (self.mo_acknowledged if delivery.kind == "mo" else self.receipts_acknowledged).append(key)
        elif delivery.kind == "mo":
            self.mo_refused.append((key, status))
            self._send_later(delivery, self.mo_retry_delay)  # an SMSC retries a refused delivery
        self._notify()
        return True

    async def _write(self, session: _Session, pdu: bytes) -> None:
        async with session.lock:
            session.writer.write(pdu)
            await session.writer.drain()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("smpp-sim: receipt not sent: %r", task.exception())
