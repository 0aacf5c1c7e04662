"""The simulated SMSC's own SMPP 3.4 PDU codec: command ids, statuses, parameter tags, the bodies
it reads and writes. Independent of the client library on purpose, so a client that encodes
something wrongly fails here instead of being decoded by the same mistake."""

from __future__ import annotations

import struct
from dataclasses import dataclass

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

HEADER = struct.Struct("!IIII")
MAX_PDU = 70_000  # message_payload may hold 64 KiB
# Octets of short_message that fit one SMS on the air, by data_coding; 140 for other codings.
MAX_SHORT_MESSAGE = {0: 160, 8: 140}


class PduError(Exception):
    """A PDU we cannot accept, with the command_status to answer it with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def encode_pdu(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return HEADER.pack(HEADER.size + len(body), command_id, status, sequence) + body


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


def whole_text(data_coding: int, raw_parts: list[bytes]) -> str:
    """The text of a message from its parts, decoded strictly (a surrogate pair may span parts)."""
    joined = b"".join(raw_parts)
    if data_coding == 8:
        try:
            return joined.decode("utf-16-be")
        except UnicodeDecodeError:
            raise PduError(ESME_RINVMSGLEN, "UCS2 text is not valid UTF-16") from None
    return decode_text(data_coding, joined)
