"""Events → messages: acceptance, dispatch whistle, supervision ladder, extension decisions, reply and
callback invitation; each at most once per (event, recipient, template); department systems by
signed webhook (issue: notification)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from opentelemetry.trace import SpanKind

from hub.contracts.notification import NotificationFailedV1, NotificationSentV1
from hub.contracts.referral import CaseRepliedV1, ReferralExtensionDecidedV1, ReferralSupervisionRaisedV1
from services.notification.domain.phones import national
from tests.integration.test_notification_kit import (
    CALLBACK,
    CASE_ACCEPTED,
    CASE_REPLIED,
    CENTRE_LEADER,
    CITIZEN,
    COMMITTEE,
    COMMUNITY,
    COMMUNITY_CONTACT,
    COMMUNITY_HEAD,
    DISPATCHED,
    POLICE,
    POLICE_CONTACT,
    UNLISTED,
    NotificationHub,
    case_no,
    dispatched,
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


async def _sms_count(hub: NotificationHub, n: int, case: str) -> list[dict[str, Any]]:
    return await eventually(
        lambda: hub.sms(case_no=case), until=lambda items: len(items) >= n, what=f"{n} SMS for {case}"
    )


def _to(items: list[dict[str, Any]], phone: str, code: str | None = None) -> list[dict[str, Any]]:
    return [
        m for m in items if m["phone"] == national(phone) and (code is None or m["template_code"] == code)
    ]


async def test_same_event_delivered_three_times_gives_one_sms_per_recipient(notif: NotificationHub) -> None:
    case = case_no(1)
    await notif.publish(registered(notif, case))
    event = dispatched(case, COMMUNITY, "lead")
    for _ in range(3):
        await notif.publish(event)
    await _sms_count(notif, 2, case)
    await notif.quiescent()
    sms = await notif.sms(case_no=case)
    accepted, whistle = _to(sms, CITIZEN, CASE_ACCEPTED), _to(sms, COMMUNITY_CONTACT, DISPATCHED)
    print(
        f"\nsame dispatched event delivered 3 times: acceptance SMS={len(accepted)} whistle SMS={len(whistle)}"
    )
    assert len(accepted) == 1 and len(whistle) == 1 and len(sms) == 2
    assert accepted[0]["text"].startswith("【昆都仑区综治中心】您反映的事项已受理，受理编号" + case)
    assert "主办" in whistle[0]["text"] and "噪声扰民" in whistle[0]["text"]
    # The unit's system heard it too, once, signed (the receiver verifies and counts duplicates).
    hooks = await notif.webhooks()
    assert [h["body"]["hub"]["case_no"] for h in hooks["items"]] == [case]
    assert hooks["duplicates"] == 0 and hooks["refused"] == []
    assert len(notif.events(NotificationSentV1.TYPE, case)) == 3


async def test_the_ledger_itself_refuses_a_second_row_for_the_same_event_recipient_and_template(
    notif: NotificationHub,
) -> None:
    from hub.messaging.consumer import HandlerContext

    case = case_no(2)
    handlers = notif.apps["notification"].app.state.handlers
    await notif.publish(registered(notif, case))
    await eventually(lambda: _contact_known(notif, case), what="contact projected")
    event = dispatched(case, UNLISTED, "lead")
    for _ in range(3):  # straight into the handler: no inbox in the way
        async with notif.runtime.db.transaction() as session:
            await handlers.on_referral_dispatched(HandlerContext(session, event, notif.runtime.outbox))
    await notif.quiescent()
    rows = await notif.rows(case)
    assert [(r.template, r.recipient_kind) for r in rows] == [("case_accepted", "citizen")]
    assert len(await notif.sms(case_no=case)) == 1


async def _contact_known(hub: NotificationHub, case: str) -> bool:
    from sqlalchemy import select

    from services.notification.tables import contacts

    async with hub.runtime.db.sessions() as session:
        return (await session.execute(select(contacts).where(contacts.c.case_no == case))).first() is not None


async def test_assisting_departments_hear_the_whistle_and_the_citizen_hears_only_of_the_lead(
    notif: NotificationHub, spans: Any
) -> None:
    case = case_no(3)
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, COMMUNITY, "lead"))
    await notif.publish(dispatched(case, POLICE, "assisting"))
    await notif.publish(dispatched(case, UNLISTED, "assisting"))  # no contact: console only
    await _sms_count(notif, 3, case)
    await notif.quiescent()
    sms = await notif.sms(case_no=case)
    assert len(_to(sms, CITIZEN)) == 1
    assert "协办" in _to(sms, POLICE_CONTACT, DISPATCHED)[0]["text"]
    hooks = (await notif.webhooks())["items"]
    styles = sorted(h["style"] for h in hooks)
    assert styles == ["dingtalk", "hub"]  # the police robot (timestamp + sign) and the hub-style hook
    robot = next(h for h in hooks if h["style"] == "dingtalk")
    assert robot["body"]["msgtype"] == "text" and case in robot["body"]["text"]["content"]
    # The robot's access token and signature travel in its URL: never in a span of ours (the
    # simulated robot's own server span is the robot's business).
    ours = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert ours and not [s.name for s in ours if "access_token" in str(dict(s.attributes or {}))]


async def test_each_supervision_step_reaches_the_people_that_step_brings_in(notif: NotificationHub) -> None:
    case = case_no(4)
    due = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    expected = {
        "reminder": (("SMS_000005", COMMUNITY_CONTACT),),
        "ordinary": (("SMS_000006", COMMUNITY_CONTACT), ("SMS_000006", COMMUNITY_HEAD)),
        "yellow_card": tuple(("SMS_000007", p) for p in (COMMUNITY_CONTACT, COMMUNITY_HEAD, CENTRE_LEADER)),
        "red_card": tuple(
            ("SMS_000008", p) for p in (COMMUNITY_CONTACT, COMMUNITY_HEAD, CENTRE_LEADER, COMMITTEE)
        ),
    }
    for level, overdue in (("reminder", 0), ("ordinary", 0), ("yellow_card", 1), ("red_card", 3)):
        data = ReferralSupervisionRaisedV1.model_validate(
            {
                "referral_id": "r-1",
                "case_no": case,
                "department": COMMUNITY,
                "level": level,
                "due_at": due,
                "overdue": overdue,
            }
        )
        await notif.publish(referral_event(data.TYPE, case, data.model_dump(mode="json")))
    await _sms_count(notif, 10, case)
    await notif.quiescent()
    sms = await notif.sms(case_no=case)
    got = sorted((m["template_code"], "+86" + m["phone"]) for m in sms)
    assert got == sorted(pair for pairs in expected.values() for pair in pairs)
    texts = {m["template_code"]: m["text"] for m in sms}
    assert "2026年12月1日17:30" in texts["SMS_000005"]  # the deadline in Beijing time
    assert "超期3个工作日" in texts["SMS_000008"] and "政法委" in texts["SMS_000008"]
    assert len((await notif.webhooks())["items"]) == 4  # the unit's system hears every step


async def test_extension_decisions_reach_the_department_and_a_contract_breach_is_dead_lettered(
    notif: NotificationHub,
) -> None:
    case = case_no(5)
    approved = ReferralExtensionDecidedV1(
        referral_id="r-2",
        case_no=case,
        department=COMMUNITY,
        approved=True,
        new_due_at=datetime(2026, 12, 8, 9, 30, tzinfo=UTC),
    )
    denied = ReferralExtensionDecidedV1(
        referral_id="r-2",
        case_no=case,
        department=COMMUNITY,
        approved=False,
        due_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
    )
    for data in (approved, denied):
        await notif.publish(referral_event(data.TYPE, case, data.model_dump(mode="json")))
    bad = referral_event(
        ReferralExtensionDecidedV1.TYPE,
        case,
        {"referral_id": "r-2", "case_no": case, "department": COMMUNITY, "approved": False},
    )
    await notif.publish(bad)
    sms = await _sms_count(notif, 2, case)
    assert sorted(m["template_code"] for m in sms) == ["SMS_000009", "SMS_000010"]
    assert "延至2026年12月8日17:30" in next(m["text"] for m in sms if m["template_code"] == "SMS_000009")
    connection = await aio_pika.connect(notif.settings.amqp_url)
    try:
        dlq = await (await connection.channel()).declare_queue("notification.events.dlq", passive=True)
        message = await eventually(lambda: dlq.get(no_ack=True, fail=False), what="dead-lettered breach")
    finally:
        await connection.close()
    assert message is not None and message.message_id == bad.id
    assert str((message.headers or {})["x-hub-death-reason"]).startswith("invalid event data")


async def test_case_replied_sends_the_reply_notice_then_the_callback_invitation(
    notif: NotificationHub,
) -> None:
    case = case_no(6)
    await notif.publish(registered(notif, case))
    data = CaseRepliedV1(
        case_no=case,
        lead_department_name="包头市昆都仑区城市管理综合执法局白云路街道执法中队（夜间施工噪声扰民专项整治工作组）",
    )
    await notif.publish(referral_event(data.TYPE, case, data.model_dump(mode="json")))
    sms = await _sms_count(notif, 2, case)
    codes = [m["template_code"] for m in sms]
    assert sorted(codes) == sorted([CASE_REPLIED, CALLBACK])
    reply = next(m for m in sms if m["template_code"] == CASE_REPLIED)
    assert len(reply["params"]["department"]) == 35 and reply["params"]["department"].endswith("…")
    assert "回复1满意，2基本满意，3不满意" in next(m["text"] for m in sms if m["template_code"] == CALLBACK)


async def test_anonymous_reporters_get_no_sms_and_no_callback(notif: NotificationHub) -> None:
    case = case_no(7)
    await notif.publish(registered(notif, case, phone=None))
    await notif.publish(dispatched(case, UNLISTED, "lead"))
    data = CaseRepliedV1(case_no=case, lead_department_name="昆都仑区住房和城乡建设局")
    await notif.publish(referral_event(data.TYPE, case, data.model_dump(mode="json")))
    await eventually(lambda: _consumed(notif, 3), what="three events handled")
    await notif.quiescent()
    assert await notif.rows(case) == [] and await notif.sms(case_no=case) == []


async def _consumed(hub: NotificationHub, n: int) -> bool:
    return sum(c.processed for c in hub.runtime.consumers) >= n


async def test_a_webhook_with_the_wrong_secret_is_refused_and_the_delivery_fails_visibly(
    notif: NotificationHub,
) -> None:
    from services.notification.contacts import ContactRegistry, UnitContacts, Webhook

    case = case_no(8)
    base = notif.sim("webhook")
    bad = ContactRegistry(
        units={
            COMMUNITY: UnitContacts(COMMUNITY, "社区", webhook=Webhook(f"{base}/hooks/community", "wrong"))
        }
    )
    notif.sender.contacts = bad
    notif.apps["notification"].app.state.handlers.contacts = bad
    await notif.publish(dispatched(case, COMMUNITY, "assisting"))
    failed = await eventually(
        lambda: _events(notif, NotificationFailedV1.TYPE, case), what="notification.failed.v1"
    )
    assert failed[0].data["recipient_kind"] == "department_webhook"
    assert "401" in failed[0].data["reason"]
    hooks = await notif.webhooks()
    assert hooks["items"] == [] and hooks["refused"] == [{"token": "community", "reason": "mismatch"}]


async def _events(hub: NotificationHub, type_: str, case: str) -> list[Any]:
    return hub.events(type_, case)


async def test_a_webhook_timestamp_outside_the_window_is_refused(notif: NotificationHub) -> None:

    from services.notification.contacts import Webhook
    from services.notification.webhook import WebhookChannel, WebhookMessage, WebhookRejected

    hook = Webhook(f"{notif.sim('webhook')}/hooks/community", "community-hook-secret")
    message = WebhookMessage("d-1", "ZZ-1", COMMUNITY, "referral_dispatched", "吹哨交办", "【中心】测试", {})
    async with http_client() as client:
        stale = WebhookChannel(client, lambda: datetime.now(UTC) - timedelta(minutes=10))
        try:
            await stale.send(hook, message)
            raise AssertionError("a stale timestamp must be refused")
        except WebhookRejected as exc:
            assert "401" in str(exc)
        fresh = WebhookChannel(client, lambda: datetime.now(UTC))
        await fresh.send(hook, message)
        await fresh.send(hook, message)  # a resend after a crash: same X-Hub-Delivery
    hooks = await notif.webhooks()
    assert len(hooks["items"]) == 1 and hooks["duplicates"] == 1
    assert hooks["refused"] == [{"token": "community", "reason": "stale"}]


async def test_a_lead_dispatched_again_in_a_later_round_does_not_repeat_the_acceptance(
    notif: NotificationHub,
) -> None:
    case = case_no(9)
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, COMMUNITY, "lead"))
    await notif.publish(dispatched(case, POLICE, "lead"))  # returned, re-routed: a new event
    await _sms_count(notif, 3, case)
    await notif.quiescent()
    sms = await notif.sms(case_no=case)
    assert len(_to(sms, CITIZEN, CASE_ACCEPTED)) == 1
    assert (
        len(_to(sms, COMMUNITY_CONTACT, DISPATCHED)) == 1 and len(_to(sms, POLICE_CONTACT, DISPATCHED)) == 1
    )
