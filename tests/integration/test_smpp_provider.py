"""The SMPP adapter against the loopback SMSC simulator: real SMPP 3.4 over TCP on 127.0.0.1.

Every wait is on a condition with a timeout (the simulator's wait_until, the receipt collector,
asyncio.timeout around calls that must fail fast); nothing sleeps in place of synchronisation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notification.domain.segments import PART_LIMIT, split_segments
from services.notification.domain.templates import format_deadline, load_default_catalog
from services.notification.sms.port import SmsRejected, SmsRequest, SmsUnavailable
from services.notification.sms.smpp.adapter import SmppSms
from services.notification.sms.smpp.deliveries import DeliveryReceipt, MobileOriginated
from services.notification.sms.smpp.errors import SmppBindError, SmppOutcomeUnknown
from services.notification.sms.smpp.simulator.pdu import (
    ESME_RINVPASWD,
    ESME_ROK,
    ESME_RSYSERR,
    ESME_RTHROTTLED,
)
from services.notification.sms.smpp.simulator.smsc import SmppSimulator

SYSTEM_ID = "hub"
PASSWORD = "s3cret"
SIGN = "昆都仑区综治中心"
PHONE = "+8613800138000"
CASE_NO = "KDL2026120100123"


class Receipts:
    """The adapter's receipt callback, with a way to wait for one."""

    def __init__(self) -> None:
        self.items: list[DeliveryReceipt] = []
        self._changed = asyncio.Event()

    async def __call__(self, receipt: DeliveryReceipt) -> None:
        self.items.append(receipt)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, provider_ref: str, timeout: float = 5.0) -> DeliveryReceipt:
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                found = [r for r in self.items if r.provider_ref == provider_ref]
                if found:
                    return found[0]
                await changed.wait()


class Messages:
    """The adapter's on_message callback: records what it is given, optionally failing first."""

    def __init__(self, failures: int = 0) -> None:
        self.items: list[MobileOriginated] = []
        self.failures = failures

    async def __call__(self, message: MobileOriginated) -> None:
        self.items.append(message)
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError(f"database down while recording {message.sender} {message.text}")


def make_adapter(port: int, receipts: Receipts, **overrides: Any) -> SmppSms:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "on_receipt": receipts,
        "source_addr": "10690001",
        "submit_timeout": 2.0,
        "bind_timeout": 1.0,
        "reconnect_delay": (0.05, 0.2),
    }
    options.update(overrides)
    return SmppSms(**options)


def text_request(text: str, phone: str = PHONE) -> SmsRequest:
    return SmsRequest(
        out_id="delivery-1", phone=phone, sign_name=SIGN, template_code="", params={}, text=text
    )


@pytest.fixture
async def sim() -> AsyncIterator[SmppSimulator]:
    async with SmppSimulator(system_id=SYSTEM_ID, password=PASSWORD) as simulator:
        yield simulator


@pytest.fixture
def receipts() -> Receipts:
    return Receipts()


@pytest.fixture
async def sms(sim: SmppSimulator, receipts: Receipts) -> AsyncIterator[SmppSms]:
    async with make_adapter(sim.port, receipts) as adapter:
        yield adapter


@pytest.mark.parametrize(
    ("template_id", "params"),
    [
        (
            "case_accepted",
            {"case_no": CASE_NO, "deadline": format_deadline(datetime(2026, 12, 1, 9, 30, tzinfo=UTC))},
        ),
        ("case_replied", {"case_no": CASE_NO, "department": "昆都仑区住房和城乡建设局物业管理科"}),
    ],
    ids=["single", "two-part"],
)
async def test_template_is_rendered_and_arrives_verbatim(
    sim: SmppSimulator, sms: SmppSms, template_id: str, params: dict[str, str]
) -> None:
    catalog = load_default_catalog()
    rendered = catalog.render(template_id, params, SIGN)
    request = SmsRequest("delivery-1", PHONE, SIGN, rendered.template_code, params)

    accepted = await sms.send(request)

    await sim.wait_until(lambda: len(sim.received) == 1)
    got = sim.received[0]
    assert got.text == rendered.text
    assert len(got.parts) == rendered.segments
    assert got.data_coding == 8  # UCS2
    assert got.destination == "8613800138000"
    assert (accepted.provider, accepted.provider_ref) == ("smpp", got.message_ids[0])


async def test_long_chinese_text_goes_out_in_67_character_parts(sim: SmppSimulator, sms: SmppSms) -> None:
    text = (
        f"【{SIGN}】" + "您反映的小区私改公共设施问题已交由住房和城乡建设局牵头办理，派出所、司法所协助。" * 5
    )
    expected_parts = split_segments(text)
    assert len(expected_parts) >= 3

    accepted = await sms.send(text_request(text))

    await sim.wait_until(lambda: len(sim.received) == 1)
    got = sim.received[0]
    assert got.text == text
    assert list(got.parts) == expected_parts
    assert all(len(part) <= PART_LIMIT for part in got.parts)
    assert got.concatenation == "udh"
    assert accepted.provider_ref == got.message_ids[0]
    assert len(set(got.message_ids)) == len(expected_parts)


async def test_seventy_characters_fit_one_sms(sim: SmppSimulator, sms: SmppSms) -> None:
    text = f"【{SIGN}】" + "事" * (70 - len(SIGN) - 2)
    await sms.send(text_request(text))
    await sim.wait_until(lambda: len(sim.received) == 1)
    assert sim.received[0].parts == (text,)
    assert sim.received[0].concatenation == "none"


async def test_concurrent_sends_each_get_their_own_message_id(sim: SmppSimulator, sms: SmppSms) -> None:
    texts = [f"【{SIGN}】第{i}条测试短信" for i in range(8)]
    accepted = await asyncio.gather(*(sms.send(text_request(t)) for t in texts))
    await sim.wait_until(lambda: len(sim.received) == len(texts))
    by_ref = {got.message_ids[0]: got.text for got in sim.received}
    assert [by_ref[a.provider_ref] for a in accepted] == texts


@pytest.mark.parametrize("length", [20, 200], ids=["single", "multi-part"])
async def test_delivery_receipt_reaches_the_callback(
    sim: SmppSimulator, sms: SmppSms, receipts: Receipts, length: int
) -> None:
    accepted = await sms.send(text_request(f"【{SIGN}】" + "测" * length))

    receipt = await receipts.wait_for(accepted.provider_ref)

    assert receipt.status == "delivered"
    assert receipt.at.tzinfo is not None
    assert abs(receipt.at - datetime.now(UTC)) < timedelta(minutes=2)
    # One receipt per part was acknowledged, and the callback heard once for the message.
    await sim.wait_until(lambda: set(sim.received[0].message_ids) <= set(sim.receipts_acknowledged))
    assert [r.provider_ref for r in receipts.items] == [accepted.provider_ref]


async def test_undelivered_receipt(sim: SmppSimulator, sms: SmppSms, receipts: Receipts) -> None:
    sim.receipt_status = "UNDELIV"
    accepted = await sms.send(text_request(f"【{SIGN}】关机未送达"))
    receipt = await receipts.wait_for(accepted.provider_ref)
    assert receipt.status == "undelivered"


@pytest.mark.parametrize("status", [ESME_RSYSERR, ESME_RTHROTTLED], ids=["ESME_RSYSERR", "ESME_RTHROTTLED"])
async def test_transient_smsc_errors_are_unavailable(sim: SmppSimulator, sms: SmppSms, status: int) -> None:
    sim.fail_next(1, status)
    with pytest.raises(SmsUnavailable) as failure:
        await sms.send(text_request(f"【{SIGN}】稍后重试"))
    # A definite refusal, not an unknown outcome: failing over cannot send it twice.
    assert type(failure.value) is SmsUnavailable
    assert ("ESME_RSYSERR" if status == ESME_RSYSERR else "ESME_RTHROTTLED") in str(failure.value)
    assert sim.received == []

    accepted = await sms.send(text_request(f"【{SIGN}】稍后重试"))  # the session survived
    await sim.wait_until(lambda: len(sim.received) == 1)
    assert accepted.provider_ref == sim.received[0].message_ids[0]


async def test_invalid_destination_is_rejected_by_the_smsc(sim: SmppSimulator, sms: SmppSms) -> None:
    with pytest.raises(SmsRejected, match="ESME_RINVDSTADR"):
        await sms.send(text_request(f"【{SIGN}】号码有误", phone="+86123"))
    assert sim.submits == 1  # the SMSC judged it, not a local check
    assert sim.received == []


async def test_unknown_template_code_is_rejected_before_sending(sim: SmppSimulator, sms: SmppSms) -> None:
    with pytest.raises(SmsRejected, match="SMS_999999"):
        await sms.send(SmsRequest("delivery-1", PHONE, SIGN, "SMS_999999", {"case_no": CASE_NO}))
    assert sim.submits == 0


async def test_unanswered_submit_is_an_unknown_outcome_within_the_timeout(
    sim: SmppSimulator, receipts: Receipts
) -> None:
    async with make_adapter(sim.port, receipts, submit_timeout=0.5) as sms:
        sim.stall_next(1)
        async with asyncio.timeout(3):
            with pytest.raises(SmppOutcomeUnknown, match="may have been sent"):
                await sms.send(text_request(f"【{SIGN}】无应答"))


async def test_stopped_smsc_is_unavailable_not_a_hang_and_the_adapter_reconnects(
    receipts: Receipts,
) -> None:
    first = SmppSimulator(system_id=SYSTEM_ID, password=PASSWORD)
    await first.start()
    port = first.port
    async with make_adapter(port, receipts) as sms:
        await first.stop()
        async with asyncio.timeout(5):
            with pytest.raises(SmsUnavailable):
                await sms.send(text_request(f"【{SIGN}】服务中断"))
        assert not sms.bound

        async with SmppSimulator(system_id=SYSTEM_ID, password=PASSWORD, port=port) as second:
            await second.wait_until(lambda: second.bound_sessions == 1)
            accepted = await sms.send(text_request(f"【{SIGN}】服务恢复"))
            await second.wait_until(lambda: len(second.received) == 1)
            assert accepted.provider_ref == second.received[0].message_ids[0]


async def test_nothing_listening_is_unavailable_within_the_bind_timeout(receipts: Receipts) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    sms = make_adapter(port, receipts)
    try:
        async with asyncio.timeout(3):
            with pytest.raises(SmsUnavailable, match="no session"):
                await sms.send(text_request(f"【{SIGN}】无人监听"))
    finally:
        await sms.stop()


async def test_silent_smsc_times_out_the_bind(receipts: Receipts) -> None:
    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    sms = make_adapter(server.sockets[0].getsockname()[1], receipts)
    try:
        async with asyncio.timeout(3):
            with pytest.raises(SmsUnavailable, match="no session"):
                await sms.start()
        assert not sms.bound
    finally:
        await sms.stop()
        server.close()
        await server.wait_closed()


async def test_wrong_password_fails_the_bind_clearly(sim: SmppSimulator, receipts: Receipts) -> None:
    sms = make_adapter(sim.port, receipts, password="wrong")
    async with asyncio.timeout(3):
        with pytest.raises(SmppBindError, match="ESME_RINVPASWD"):
            await sms.start()
    assert sim.bind_results == [(SYSTEM_ID, ESME_RINVPASWD)]
    assert not sms.bound

    # A send on an adapter that never bound says the same, promptly, and sends nothing.
    async with asyncio.timeout(3):
        with pytest.raises(SmppBindError, match="ESME_RINVPASWD"):
            await sms.send(text_request(f"【{SIGN}】密码错误"))
    await sms.stop()
    assert sim.submits == 0


async def test_the_right_password_binds_once(sim: SmppSimulator, sms: SmppSms) -> None:
    await sms.send(text_request(f"【{SIGN}】一"))
    await sms.send(text_request(f"【{SIGN}】二"))
    assert sim.bind_results == [(SYSTEM_ID, ESME_ROK)]


async def test_enquire_link_keeps_an_idle_session_alive(sim: SmppSimulator, receipts: Receipts) -> None:
    async with make_adapter(sim.port, receipts, enquire_link_interval=0.1) as sms:
        await sim.wait_until(lambda: sim.enquire_links >= 3)
        assert sms.bound
        assert sim.bind_results == [(SYSTEM_ID, ESME_ROK)]


async def test_a_failing_receipt_callback_does_not_break_the_session(sim: SmppSimulator) -> None:
    calls: list[DeliveryReceipt] = []

    async def broken(receipt: DeliveryReceipt) -> None:
        calls.append(receipt)
        raise RuntimeError("database down")

    async with make_adapter(sim.port, Receipts(), on_receipt=broken) as sms:
        first = await sms.send(text_request(f"【{SIGN}】第一条"))
        await sim.wait_until(lambda: first.provider_ref in sim.receipts_acknowledged)
        second = await sms.send(text_request(f"【{SIGN}】第二条"))
        await sim.wait_until(lambda: second.provider_ref in sim.receipts_acknowledged)
    assert [c.provider_ref for c in calls] == [first.provider_ref, second.provider_ref]
    assert sim.bind_results == [(SYSTEM_ID, ESME_ROK)]


def test_library_log_lines_lose_the_destination_and_text(caplog: pytest.LogCaptureFixture) -> None:
    from aiosmpplib import PhoneNumber, StructuredLogger, SubmitSm

    from services.notification.sms.smpp.library_log import LibraryLogBridge

    library_logger = StructuredLogger("aiosmpplib-test", handler=LibraryLogBridge())
    message = SubmitSm(short_message="【测试】王女士您好", destination=PhoneNumber("8613800138000"))
    with caplog.at_level("ERROR"):
        # The line aiosmpplib writes when a submit_sm cannot be sent.
        library_logger.error("SMPP message could not be sent", message=message, sequence_num=7)
    assert "SMPP message could not be sent" in caplog.text
    assert '"sequence_num": 7' in caplog.text
    assert "13800138000" not in caplog.text
    assert "王女士" not in caplog.text


# --- citizens' messages (mobile originated deliver_sm) -----------------------------------------

ESME_RX_T_APPN = 0x64
REPLY = "不满意，楼道灯还是不亮"


async def test_a_citizens_message_reaches_on_message_once_handled_and_is_acknowledged(
    sim: SmppSimulator, receipts: Receipts, caplog: pytest.LogCaptureFixture
) -> None:
    messages = Messages()
    caplog.set_level("DEBUG")
    async with make_adapter(sim.port, receipts, on_message=messages):
        await sim.wait_until(lambda: sim.bound_sessions == 1)
        mo = await sim.deliver_mo(PHONE, REPLY, to="10690001", reference=7)
        ascii_mo = await sim.deliver_mo("13800138000", "3")  # the default alphabet, no reference
        await sim.wait_until(lambda: sim.mo_acknowledged == [mo, ascii_mo])

    assert messages.items == [
        MobileOriginated(sender=PHONE, destination="10690001", text=REPLY, reference="7"),
        MobileOriginated(sender=PHONE, destination="10690001", text="3", reference=""),
    ]
    assert receipts.items == []  # a citizen's message is not a receipt
    assert sim.mo_sent == [mo, ascii_mo] and sim.mo_refused == []
    assert "13800138000" not in caplog.text and "楼道灯" not in caplog.text
    assert "13800138000" not in repr(messages.items) and "楼道灯" not in repr(messages.items)


async def test_a_receipt_is_still_a_receipt_beside_citizens_messages(
    sim: SmppSimulator, receipts: Receipts
) -> None:
    messages = Messages()
    async with make_adapter(sim.port, receipts, on_message=messages) as sms:
        accepted = await sms.send(text_request(f"【{SIGN}】请回复1、2、3评价"))
        mo = await sim.deliver_mo(PHONE, "1")
        receipt = await receipts.wait_for(accepted.provider_ref)
        await sim.wait_until(lambda: sim.mo_acknowledged == [mo])
        await sim.wait_until(lambda: accepted.provider_ref in sim.receipts_acknowledged)

    assert receipt.status == "delivered"
    assert [r.provider_ref for r in receipts.items] == [accepted.provider_ref]
    assert [m.text for m in messages.items] == ["1"]  # the receipt never reached on_message


async def test_a_message_the_callback_cannot_take_is_refused_for_now_and_delivered_again(
    sim: SmppSimulator, receipts: Receipts, caplog: pytest.LogCaptureFixture
) -> None:
    messages = Messages(failures=1)
    async with make_adapter(sim.port, receipts, on_message=messages):
        await sim.wait_until(lambda: sim.bound_sessions == 1)
        mo = await sim.deliver_mo(PHONE, REPLY)
        await sim.wait_until(lambda: sim.mo_acknowledged == [mo])

    # Refused with a temporary error (the SMSC keeps it), then delivered again and taken.
    assert sim.mo_refused == [(mo, ESME_RX_T_APPN)]
    assert sim.mo_sent == [mo, mo]
    assert len(messages.items) == 2 and messages.items[0] == messages.items[1]
    assert sim.bind_results == [(SYSTEM_ID, ESME_ROK)]  # the session survived
    assert "RuntimeError" in caplog.text
    assert "13800138000" not in caplog.text and "楼道灯" not in caplog.text  # not even the error's text


async def test_a_message_whose_answer_was_lost_comes_again_after_the_reconnect_unchanged(
    sim: SmppSimulator, receipts: Receipts
) -> None:
    messages = Messages()
    async with make_adapter(sim.port, receipts, on_message=messages):
        await sim.wait_until(lambda: sim.bound_sessions == 1)
        sim.lose_next_mo_ack()
        mo = await sim.deliver_mo(PHONE, "3", reference=42)
        await sim.wait_until(lambda: sim.mo_acknowledged == [mo])

    assert sim.mo_sent == [mo, mo]  # written on the first link, then again after the rebind
    assert [result for _, result in sim.bind_results] == [ESME_ROK, ESME_ROK]
    # The redelivery is indistinguishable from the first delivery: what the inbound path dedupes on.
    assert len(messages.items) == 2 and messages.items[0] == messages.items[1]
