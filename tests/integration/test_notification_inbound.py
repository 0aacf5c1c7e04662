"""Inbound SMS replies to the callback invitation (回访): 1 满意 / 2 基本满意 / 3 不满意.

The notification half of "an inbound 3 reopens the case": the reply becomes sms.reply_received.v1
for the right case (referral turns it into the callback result), whether the cloud provider pushed
it over HTTP or the SMSC delivered it over SMPP (deliver_sm, from the loopback SMSC simulator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.contracts.notification import SmsReplyReceivedV1
from hub.contracts.referral import CaseRepliedV1
from services.notification.domain.phones import national
from services.notification.inbound import InboundReplies, InboundSms
from services.notification.sms.smpp.simulator.smsc import SmppSimulator
from services.notification.tables import inbound_replies, opt_outs
from tests.integration.test_notification_kit import (
    CALLBACK,
    CITIZEN,
    CITIZEN_2,
    NotificationHub,
    case_no,
    notification_hub,
    referral_event,
    registered,
)
from tests.kit.http import http_client
from tests.kit.waiting import eventually


@pytest.fixture
async def notif(spans: Any, backend: str, tmp_path: Path) -> AsyncIterator[NotificationHub]:
    async with notification_hub(backend, tmp_path) as hub:
        yield hub


async def _invite(hub: NotificationHub, case: str, phone: str = CITIZEN) -> None:
    """Register the case and have it replied: the citizen gets the notice and the invitation."""
    await hub.publish(registered(hub, case, phone))
    data = CaseRepliedV1(case_no=case, lead_department_name="昆都仑区住房和城乡建设局")
    await hub.publish(referral_event(data.TYPE, case, data.model_dump(mode="json")))
    await eventually(
        lambda: hub.sms(case_no=case),
        until=lambda items: any(m["template_code"] == CALLBACK for m in items),
        what="callback invitation",
    )
    await hub.quiescent()


async def _reply(hub: NotificationHub, phone: str, content: str) -> dict[str, Any]:
    async with http_client() as client:
        response = await client.post(
            f"{hub.sim()}/_sim/inbound", json={"phone": national(phone), "content": content}
        )
    doc: dict[str, Any] = response.json()
    assert doc["status"] == 200, doc
    return doc["answer"]


async def _replies(hub: NotificationHub) -> list[Any]:
    async with hub.runtime.db.sessions() as session:
        return list(await session.execute(select(inbound_replies).order_by(inbound_replies.c.received_at)))


async def test_an_inbound_3_becomes_sms_reply_received_for_the_right_case(notif: NotificationHub) -> None:
    older, newer = case_no(60), case_no(61)
    await _invite(notif, older)
    await _invite(notif, case_no(62), CITIZEN_2)  # someone else's invitation
    await _invite(notif, newer)  # the same citizen's latest invitation

    answer = await _reply(notif, CITIZEN, "3")
    assert answer == {"code": 0, "msg": "成功", "outcomes": {"matched": 1}}
    (event,) = await eventually(
        lambda: _said(notif), until=lambda events: len(events) >= 1, what="sms.reply_received.v1"
    )
    print(
        f"\ninbound '3' → {event.type} case={event.data['case_no']} satisfaction={event.data['satisfaction']}"
    )
    assert event.subject == newer and event.data["case_no"] == newer
    assert event.data["satisfaction"] == "dissatisfied" and event.data["received_at"]
    (row,) = await _replies(notif)
    assert (row.outcome, row.case_no, row.satisfaction) == ("matched", newer, "dissatisfied")
    assert national(CITIZEN) not in str(tuple(row)) and row.content_enc != "3"  # ciphertext only


async def _said(hub: NotificationHub) -> list[Any]:
    return hub.events(SmsReplyReceivedV1.TYPE)


async def test_unrecognised_replies_are_recorded_and_ignored_and_an_answered_invitation_is_closed(
    notif: NotificationHub,
) -> None:
    case = case_no(63)
    await _invite(notif, case)
    assert (await _reply(notif, CITIZEN, "什么时候能修好？"))["outcomes"] == {"unrecognised": 1}
    assert (await _reply(notif, CITIZEN, "１满意"))["outcomes"] == {"matched": 1}  # full-width 1 + word
    assert (await _reply(notif, CITIZEN, "3"))["outcomes"] == {"no_open_callback": 1}  # already answered
    assert (await _reply(notif, CITIZEN_2, "2"))["outcomes"] == {"no_open_callback": 1}  # never invited
    await notif.quiescent()
    said = _said_now(notif)
    assert [(e.data["case_no"], e.data["satisfaction"]) for e in said] == [(case, "satisfied")]
    outcomes = [(r.outcome, r.case_no) for r in await _replies(notif)]
    assert outcomes == [
        ("unrecognised", case),
        ("matched", case),
        ("no_open_callback", None),
        ("no_open_callback", None),
    ]


def _said_now(hub: NotificationHub) -> list[Any]:
    return hub.events(SmsReplyReceivedV1.TYPE)


async def test_a_repeated_push_of_the_same_inbound_message_counts_once(notif: NotificationHub) -> None:
    case = case_no(64)
    await _invite(notif, case)
    message = {
        "phone_number": national(CITIZEN),
        "content": "2",
        "send_time": "2026-11-22 10:00:00",
        "dest_code": "1069000",
        "sequence_id": 777,
    }
    for _ in range(2):
        response = await notif.post("notification", "/internal/v1/sms/inbound", json=[message])
        assert response.status_code == 200
    assert response.json()["outcomes"] == {"duplicate": 1}
    await notif.quiescent()
    assert [e.data["satisfaction"] for e in _said_now(notif)] == ["basically_satisfied"]


async def test_td_opts_the_phone_out_of_further_sms(notif: NotificationHub) -> None:
    case = case_no(65)
    await _invite(notif, case)
    assert (await _reply(notif, CITIZEN, "TD"))["outcomes"] == {"opt_out": 1}
    async with notif.runtime.db.sessions() as session:
        assert [r.source for r in await session.execute(select(opt_outs))] == ["sms"]


# --- messages without a provider id (SMPP) --------------------------------------------------------


async def test_without_a_provider_id_the_same_message_within_the_redelivery_window_counts_once(
    notif: NotificationHub,
) -> None:
    window = timedelta(hours=1)
    # Just before a window boundary, so the repeat lands in the next bucket of the unique key.
    start = datetime.fromtimestamp(
        (int(datetime(2026, 11, 22, tzinfo=UTC).timestamp()) // 3600) * 3600 - 60, UTC
    )
    now = [start]
    replies = InboundReplies(notif.runtime, lambda: now[0], redelivery_window=window)

    def message(reference: str = "") -> InboundSms:
        return InboundSms(national(CITIZEN), "请问进度如何", "10690001", None, reference=reference)

    assert await replies.receive(message()) == "no_open_callback"
    now[0] = start + timedelta(minutes=59)  # the SMSC delivers it again, in the next bucket
    assert await replies.receive(message()) == "duplicate"
    assert await replies.receive(message(reference="8")) == "no_open_callback"  # another message
    now[0] = start + timedelta(hours=1, minutes=1)  # the same words again, later: a new message
    assert await replies.receive(message()) == "no_open_callback"
    assert [r.outcome for r in await _replies(notif)] == ["no_open_callback"] * 3


@pytest.fixture
async def smsc() -> AsyncIterator[SmppSimulator]:
    async with SmppSimulator(system_id="hub", password="dev-smpp") as simulator:
        yield simulator


@pytest.fixture
async def over_smpp(
    spans: Any, backend: str, tmp_path: Path, smsc: SmppSimulator
) -> AsyncIterator[NotificationHub]:
    """The notification service with SMPP as its only provider, built from settings as in production."""
    update = {"sms_providers": ("smpp",), "smpp_port": smsc.port}
    async with notification_hub(backend, tmp_path, settings_update=update, providers=None) as hub:
        yield hub


async def _invite_over_smpp(hub: NotificationHub, smsc: SmppSimulator, case: str) -> None:
    await hub.publish(registered(hub, case, CITIZEN))
    data = CaseRepliedV1(case_no=case, lead_department_name="昆都仑区住房和城乡建设局")
    await hub.publish(referral_event(data.TYPE, case, data.model_dump(mode="json")))
    await smsc.wait_until(
        lambda: any(case in m.text and "回复1满意" in m.text for m in smsc.received), timeout=20
    )
    await eventually(
        lambda: hub.rows(case),
        until=lambda rows: any(r.template == "callback_invitation" and r.status == "delivered" for r in rows),
        what="the invitation's SMPP receipt recorded",
    )
    await hub.quiescent()


async def test_an_smpp_delivery_receipt_is_still_recorded_as_a_receipt(
    over_smpp: NotificationHub, smsc: SmppSimulator
) -> None:
    case = case_no(66)
    await _invite_over_smpp(over_smpp, smsc, case)
    # Both SMS of the case (the reply notice and the invitation) are delivered by their receipts.
    rows = await eventually(
        lambda: over_smpp.rows(case),
        until=lambda rows: len(rows) == 2 and all(r.receipt_status == "delivered" for r in rows),
        what="both receipts recorded",
    )
    assert all(r.provider == "smpp" and r.status == "delivered" for r in rows)
    parts = {ref for m in smsc.received for ref in m.message_ids}
    await smsc.wait_until(lambda: parts <= set(smsc.receipts_acknowledged))
    assert await _replies(over_smpp) == []  # no receipt was taken for a citizen's message
    assert _said_now(over_smpp) == []


async def test_a_3_over_smpp_is_acted_on_once_though_the_smsc_delivers_it_again(
    over_smpp: NotificationHub, smsc: SmppSimulator
) -> None:
    case = case_no(67)
    await _invite_over_smpp(over_smpp, smsc, case)

    smsc.lose_next_mo_ack()  # our deliver_sm_resp is lost with the link: the SMSC delivers it again
    mo = await smsc.deliver_mo(national(CITIZEN), "3")
    await smsc.wait_until(lambda: smsc.mo_acknowledged == [mo], timeout=20)
    assert smsc.mo_sent == [mo, mo]
    await over_smpp.quiescent()

    (event,) = _said_now(over_smpp)
    assert event.subject == case and event.data["satisfaction"] == "dissatisfied"
    (row,) = await _replies(over_smpp)
    assert (row.outcome, row.case_no, row.satisfaction) == ("matched", case, "dissatisfied")
    assert national(CITIZEN) not in str(tuple(row)) and row.content_enc != "3"  # ciphertext only
