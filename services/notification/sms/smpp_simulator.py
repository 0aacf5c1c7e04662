"""Loopback SMSC simulator speaking SMPP 3.4 over TCP, for testing the SMPP adapter for real.

It has its own small PDU codec, independent of the client library, so a client that encodes
something wrongly fails here instead of being decoded by the same mistake. Like an SMSC it:
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
import re
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

# Command ids (SMPP 3.4 section 5.1.2).
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000

# Command status (section 5.1.3).
ESME_ROK = 0x00000000
ESME_RINVMSGLEN = 0x00000001
ESME_RINVCMDLEN = 0x00000002
ESME_RINVCMDID = 0x00000003
ESME_RINVBNDSTS = 0x00000004
ESME_RALYBND = 0x00000005
ESME_RSYSERR = 0x00000008
ESME_RINVDSTADR = 0x0000000B
ESME_RBINDFAIL = 0x0000000D
ESME_RINVPASWD = 0x0000000E
ESME_RINVSYSID = 0x0000000F
ESME_RINVESMCLASS = 0x00000043
ESME_RSUBMITFAIL = 0x00000045
ESME_RTHROTTLED = 0x00000058

# Optional parameter tags (section 5.3.2).
TAG_RECEIPTED_MESSAGE_ID = 0x001E
TAG_USER_MESSAGE_REFERENCE = 0x0204
TAG_SAR_MSG_REF_NUM = 0x020C
TAG_SAR_TOTAL_SEGMENTS = 0x020E
TAG_SAR_SEGMENT_SEQNUM = 0x020F
TAG_MESSAGE_PAYLOAD = 0x0424
TAG_MESSAGE_STATE = 0x0427

_HEADER = struct.Struct("!IIII")
_MAX_PDU = 70_000  # message_payload may hold 64 KiB
_MAX_SHORT_MESSAGE = {0: 160, 8: 140}  # octets that fit one SMS on the air; 140 for other codings
_UDHI = 0x40
_RECEIPT_ESM_CLASS = 0x04
_MESSAGE_STATE = {
    "DELIVRD": 2,
    "EXPIRED": 3,
    "DELETED": 4,
    "UNDELIV": 5,
    "ACCEPTD": 6,
    "UNKNOWN": 7,
    "REJECTD": 8,
}
_MAINLAND_MOBILE = re.compile(r"(?:86)?1[3-9]\d{9}")

ReceiptStat = Literal["DELIVRD", "UNDELIV", "EXPIRED", "DELETED", "UNKNOWN", "REJECTD", "ACCEPTD"]


class PduError(Exception):
    """A PDU we cannot accept, with the command_status to answer it with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


# -- codec -----------------------------------------------------------------------------------


def encode_pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return _HEADER.pack(_HEADER.size + len(body), command_id, status, sequence) + body


def c_string(value: str) -> bytes:
    return value.encode("ascii") + b"\x00"


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack("!HH", tag, len(value)) + value


class _Body:
    """A cursor over a PDU body; any overrun is a malformed PDU."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def c_string(self, max_length: int) -> str:
        end = self.data.find(b"\x00", self.pos, self.pos + max_length + 1)
        if end < 0:
            raise PduError(ESME_RINVCMDLEN, "unterminated or over-long C-octet string")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise PduError(ESME_RINVCMDLEN, "non-ASCII C-octet string") from None

    def octets(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise PduError(ESME_RINVCMDLEN, "PDU shorter than its fields")
        raw = self.data[self.pos : self.pos + count]
        self.pos += count
        return raw

    def u8(self) -> int:
        return self.octets(1)[0]

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while self.pos < len(self.data):
            tag, length = struct.unpack("!HH", self.octets(4))
            found[tag] = self.octets(length)
        return found


@dataclass(frozen=True)
class Bind:
    system_id: str
    password: str
    system_type: str
    interface_version: int


def parse_bind(body: bytes) -> Bind:
    cursor = _Body(body)
    system_id = cursor.c_string(15)
    password = cursor.c_string(8)
    system_type = cursor.c_string(12)
    version = cursor.u8()
    cursor.u8(), cursor.u8()  # addr_ton, addr_npi
    cursor.c_string(40)  # address_range
    return Bind(system_id, password, system_type, version)


@dataclass(frozen=True)
class Address:
    ton: int
    npi: int
    digits: str


@dataclass(frozen=True)
class ShortMessage:
    """A submit_sm or deliver_sm body (section 4.4.1)."""

    source: Address
    destination: Address
    esm_class: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]


def parse_short_message(body: bytes) -> ShortMessage:
    cursor = _Body(body)
    cursor.c_string(5)  # service_type
    source = Address(cursor.u8(), cursor.u8(), cursor.c_string(20))
    destination = Address(cursor.u8(), cursor.u8(), cursor.c_string(20))
    esm_class = cursor.u8()
    cursor.u8(), cursor.u8()  # protocol_id, priority_flag
    cursor.c_string(16), cursor.c_string(16)  # schedule_delivery_time, validity_period
    registered_delivery = cursor.u8()
    cursor.u8()  # replace_if_present_flag
    data_coding = cursor.u8()
    cursor.u8()  # sm_default_msg_id
    short_message = cursor.octets(cursor.u8())
    return ShortMessage(
        source, destination, esm_class, registered_delivery, data_coding, short_message, cursor.tlvs()
    )


def encode_short_message(message: ShortMessage) -> bytes:
    return (
        c_string("")
        + bytes([message.source.ton, message.source.npi])
        + c_string(message.source.digits)
        + bytes([message.destination.ton, message.destination.npi])
        + c_string(message.destination.digits)
        + bytes([message.esm_class, 0, 0])
        + c_string("")
        + c_string("")
        + bytes([message.registered_delivery, 0, message.data_coding, 0, len(message.short_message)])
        + message.short_message
        + b"".join(tlv(tag, value) for tag, value in message.tlvs.items())
    )


@dataclass(frozen=True)
class Concatenation:
    ref: int
    total: int
    seq: int


def split_udh(user_data: bytes) -> tuple[Concatenation | None, bytes]:
    """Strip the user data header; return its concatenation element (8- or 16-bit ref), if any."""
    if not user_data or user_data[0] + 1 > len(user_data):
        raise PduError(ESME_RINVMSGLEN, "UDHI set but no valid user data header")
    header, rest = user_data[1 : 1 + user_data[0]], user_data[1 + user_data[0] :]
    concat = None
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        value = header[pos + 2 : pos + 2 + length]
        if iei == 0x00 and length == 3:
            concat = Concatenation(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4:
            concat = Concatenation(int.from_bytes(value[:2], "big"), value[2], value[3])
        pos += 2 + length
    return concat, rest


def decode_text(data_coding: int, data: bytes) -> str:
    if data_coding == 8:
        if len(data) % 2:
            raise PduError(ESME_RINVMSGLEN, "odd number of octets in UCS2 text")
        # A part may end inside a surrogate pair; the whole message is decoded strictly later.
        return data.decode("utf-16-be", errors="surrogatepass")
    if data_coding in (0, 1):
        return data.decode("ascii", errors="replace")  # enough of GSM 03.38 for tests
    if data_coding == 3:
        return data.decode("latin-1")
    raise PduError(ESME_RSUBMITFAIL, f"data_coding {data_coding} not supported")


# -- simulator -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedSms:
    """One complete message as the handset would show it."""

    system_id: str
    source: str
    destination: str
    text: str
    parts: tuple[str, ...]
    message_ids: tuple[str, ...]  # one per submit_sm, in part order
    data_coding: int
    concatenation: Literal["none", "udh", "sar", "payload"]
    received_at: datetime


@dataclass
class _Part:
    message_id: str
    raw: bytes


@dataclass
class _Assembly:
    total: int
    method: Literal["udh", "sar"]
    data_coding: int
    parts: dict[int, _Part] = field(default_factory=dict)


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
        self._assemblies: dict[tuple[str, str, str, int], _Assembly] = {}
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
        digits = phone.strip().lstrip("+")
        if len(digits) == 11 and digits.startswith("1"):
            digits = "86" + digits  # a mainland mobile, as SMSCs report senders: international
        coding = 0 if text.isascii() else 8
        payload = text.encode("ascii") if coding == 0 else text.encode("utf-16-be")
        if len(payload) > _MAX_SHORT_MESSAGE[coding]:
            raise ValueError("deliver_mo sends one SMS; the text does not fit in one")
        tlvs = {} if reference is None else {TAG_USER_MESSAGE_REFERENCE: reference.to_bytes(2, "big")}
        body = encode_short_message(
            ShortMessage(
                source=Address(1 if digits.startswith("86") else 0, 1, digits),
                destination=Address(0, 1, to),
                esm_class=0,  # default message type: mobile originated
                registered_delivery=0,
                data_coding=coding,
                short_message=payload,
                tlvs=tlvs,
            )
        )
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
                header = await reader.readexactly(_HEADER.size)
                length, command_id, status, sequence = _HEADER.unpack(header)
                if not _HEADER.size <= length <= _MAX_PDU:
                    await self._write(session, encode_pdu(GENERIC_NACK, ESME_RINVCMDLEN, sequence))
                    return
                body = await reader.readexactly(length - _HEADER.size)
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
            message_id = self._accept(session, message)
        except PduError as exc:
            log.info("smpp-sim: submit_sm refused with status 0x%08X: %s", exc.status, exc)
            await self._write(session, encode_pdu(SUBMIT_SM | RESPONSE, exc.status, sequence, c_string("")))
            self._notify()
            return
        await self._write(session, encode_pdu(SUBMIT_SM | RESPONSE, ESME_ROK, sequence, c_string(message_id)))
        wanted = message.registered_delivery & 0x03  # 1: always, 2: on failure only
        if wanted == 1 or (wanted == 2 and self.receipt_status != "DELIVRD"):
            self._schedule_receipt(session.system_id, message, message_id)
        self._notify()

    def _accept(self, session: _Session, message: ShortMessage) -> str:
        if not _MAINLAND_MOBILE.fullmatch(message.destination.digits) or (
            message.destination.ton == 1 and not message.destination.digits.startswith("86")
        ):
            raise PduError(ESME_RINVDSTADR, "destination is not a mainland mobile number")
        if message.esm_class & 0x3C:
            raise PduError(ESME_RINVESMCLASS, "only default message type may be submitted")
        limit = _MAX_SHORT_MESSAGE.get(message.data_coding, 140)
        if len(message.short_message) > limit:
            raise PduError(
                ESME_RINVMSGLEN, f"short_message is {len(message.short_message)} octets, limit {limit}"
            )

        payload = message.tlvs.get(TAG_MESSAGE_PAYLOAD)
        user_data = message.short_message
        concat: Concatenation | None = None
        method: Literal["udh", "sar"] = "udh"
        if message.esm_class & _UDHI:
            concat, user_data = split_udh(user_data)
        elif TAG_SAR_MSG_REF_NUM in message.tlvs:
            try:
                concat = Concatenation(
                    int.from_bytes(message.tlvs[TAG_SAR_MSG_REF_NUM], "big"),
                    message.tlvs[TAG_SAR_TOTAL_SEGMENTS][0],
                    message.tlvs[TAG_SAR_SEGMENT_SEQNUM][0],
                )
            except (KeyError, IndexError):
                raise PduError(ESME_RINVMSGLEN, "incomplete SAR parameters") from None
            method = "sar"
        if payload is not None:
            if user_data:
                raise PduError(ESME_RINVMSGLEN, "both short_message and message_payload")
            user_data = payload
        decode_text(message.data_coding, user_data)  # rejects an unsupported coding now

        message_id = f"sim{uuid.uuid4().hex[:13]}"
        now = datetime.now(UTC)
        if concat is None or concat.total == 1:
            text = _whole_text(message.data_coding, [user_data])
            self._record(session, message, text, [user_data], [message_id], payload, now)
            return message_id
        if not 1 <= concat.seq <= concat.total:
            raise PduError(ESME_RINVMSGLEN, "segment number outside 1..total")
        key = (session.system_id, message.source.digits, message.destination.digits, concat.ref)
        assembly = self._assemblies.setdefault(key, _Assembly(concat.total, method, message.data_coding))
        assembly.parts[concat.seq] = _Part(message_id, user_data)
        if len(assembly.parts) == assembly.total:
            del self._assemblies[key]
            ordered = [assembly.parts[i] for i in sorted(assembly.parts)]
            raw = [p.raw for p in ordered]
            self._record(
                session,
                message,
                _whole_text(assembly.data_coding, raw),
                raw,
                [p.message_id for p in ordered],
                None,
                now,
                method=assembly.method,
            )
        return message_id

    def _record(
        self,
        session: _Session,
        message: ShortMessage,
        text: str,
        raw_parts: list[bytes],
        message_ids: list[str],
        payload: bytes | None,
        at: datetime,
        method: Literal["udh", "sar"] | None = None,
    ) -> None:
        concatenation: Literal["none", "udh", "sar", "payload"] = (
            "payload" if payload is not None else (method or "none")
        )
        self.received.append(
            ReceivedSms(
                system_id=session.system_id,
                source=message.source.digits,
                destination=message.destination.digits,
                text=text,
                parts=tuple(decode_text(message.data_coding, p) for p in raw_parts),
                message_ids=tuple(message_ids),
                data_coding=message.data_coding,
                concatenation=concatenation,
                received_at=at,
            )
        )
        log.info("smpp-sim: message received in %d part(s), first id %s", len(raw_parts), message_ids[0])

    # -- receipts ----------------------------------------------------------------------------

    def _schedule_receipt(self, system_id: str, message: ShortMessage, message_id: str) -> None:
        stat = self.receipt_status
        local = datetime.now(self.zone).strftime("%y%m%d%H%M")
        text = (
            f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{local} done date:{local} stat:{stat} err:{0 if stat == 'DELIVRD' else 1:03d} text:"
        )
        body = encode_short_message(
            ShortMessage(
                source=message.destination,
                destination=message.source,
                esm_class=_RECEIPT_ESM_CLASS,
                registered_delivery=0,
                data_coding=0,
                short_message=text.encode("ascii"),
                tlvs={
                    TAG_RECEIPTED_MESSAGE_ID: c_string(message_id),
                    TAG_MESSAGE_STATE: bytes([_MESSAGE_STATE[stat]]),
                },
            )
        )
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


def _whole_text(data_coding: int, raw_parts: list[bytes]) -> str:
    joined = b"".join(raw_parts)
    if data_coding == 8:
        try:
            return joined.decode("utf-16-be")
        except UnicodeDecodeError:
            raise PduError(ESME_RINVMSGLEN, "UCS2 text is not valid UTF-16") from None
    return decode_text(data_coding, joined)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("smpp-sim: receipt not sent: %r", task.exception())
