"""Provider adapters against their loopback simulators: send, failure, failover, receipts, lookup.

The Aliyun simulator speaks Alibaba Cloud's wire format (RPC signature, SendSms, QuerySendDetails,
SmsReport push); the SMPP simulator is an SMSC on a loopback port.
"""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.contracts.notification import NotificationDeliveredV1, NotificationFailedV1
from services.notification.domain.phones import national
from services.notification.domain.templates import load_default_catalog
from services.notification.settings import NotificationSettings
from services.notification.sms.aliyun import AliyunSms
from services.notification.sms.port import SmsOutcomeUnknown, SmsRejected, SmsRequest, SmsUnavailable
from tests.integration.test_notification_kit import (
    CITIZEN,
    UNLISTED,
    NotificationHub,
    case_no,
    dispatched,
    notification_hub,
    registered,
)
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.waiting import eventually


@pytest.fixture
async def notif(spans: Any, backend: str, tmp_path: Path) -> AsyncIterator[NotificationHub]:
    async with notification_hub(backend, tmp_path) as hub:
        yield hub


SIGN = "昆都仑区综治中心"


def _request(out_id: str | None = None, **params: str) -> SmsRequest:
    rendered = load_default_catalog().render(
        "case_accepted", params or {"case_no": "ZZ-20261122-000001", "deadline": "2026年12月1日17:30"}, SIGN
    )
    return SmsRequest(
        out_id=out_id or str(uuid.uuid4()),
        phone=CITIZEN,
        sign_name=rendered.sign_name,
        template_code=rendered.template_code,
        params=rendered.params,
    )


# --- the Aliyun adapter on its own ---------------------------------------------------------------


async def test_aliyun_adapter_sends_is_refused_and_finds_its_own_message_again(
    notif: NotificationHub,
) -> None:
    settings = notif.settings
    async with http_client() as client:
        aliyun = AliyunSms(client, notif.sim(), settings.sms_access_key_id, settings.sms_access_key_secret)
        request = _request()
        accepted = await aliyun.send(request)
        assert accepted.provider == "aliyun" and accepted.provider_ref.endswith("^0")
        (got,) = await notif.sms()
        assert got["out_id"] == request.out_id and got["phone"] == national(CITIZEN)
        assert (
            got["text"]
            == "【昆都仑区综治中心】您反映的事项已受理，受理编号ZZ-20261122-000001，我们将在2026年12月1日17:30前办理并答复您。"
        )

        # QuerySendDetails by phone and day finds it by OutId; another out-id is not there.
        found = await aliyun.lookup(request, datetime.now(UTC) - timedelta(minutes=5))
        assert found is not None and found.provider == "aliyun"
        assert await aliyun.lookup(_request(), datetime.now(UTC)) is None

        with pytest.raises(SmsRejected, match="SignatureDoesNotMatch"):
            await AliyunSms(client, notif.sim(), settings.sms_access_key_id, "wrong-secret").send(request)
        with pytest.raises(SmsRejected, match="SMS_SIGNATURE_ILLEGAL"):
            await aliyun.send(_unsigned(request))
        with pytest.raises(SmsRejected, match="PARAM_LENGTH_LIMIT"):
            await aliyun.send(_with(request, deadline="2026年12月1日17:30（法定节假日顺延）"))

        await client.post(f"{notif.sim()}/_sim/fail", params={"count": 1})
        with pytest.raises(SmsUnavailable, match="HTTP 503"):
            await aliyun.send(request)
        closed = AliyunSms(client, "http://127.0.0.1:9", settings.sms_access_key_id, "x")
        with pytest.raises(SmsUnavailable, match="unreachable") as unreachable:
            await closed.send(request)
        assert not isinstance(unreachable.value, SmsOutcomeUnknown)  # never reached: nothing sent
    assert len(await notif.sms()) == 1


def _unsigned(request: SmsRequest) -> SmsRequest:
    return SmsRequest(request.out_id, request.phone, "未备案签名", request.template_code, request.params)


def _with(request: SmsRequest, **params: str) -> SmsRequest:
    return SmsRequest(
        request.out_id, request.phone, request.sign_name, request.template_code, {**request.params, **params}
    )


# --- failover inside the service ------------------------------------------------------------------


async def test_a_provider_outage_fails_over_to_the_next_provider_for_the_same_delivery(
    notif: NotificationHub,
) -> None:
    case = case_no(40)
    async with http_client() as client:
        await client.post(f"{notif.sim('sms')}/_sim/fail", params={"count": 1})  # 503 once
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, UNLISTED))
    backup = await eventually(lambda: notif.sms("sms_b", case), what="SMS via the second provider")
    await notif.quiescent()
    assert await notif.sms("sms", case) == [] and len(backup) == 1
    (row,) = await notif.rows(case)
    assert (row.status, row.provider, row.attempts) == ("sent", "aliyun-b", 1)
    assert backup[0]["out_id"] == row.id  # the same delivery, not a new one


async def test_with_every_provider_down_the_delivery_waits_and_goes_out_once_when_one_returns(
    notif: NotificationHub,
) -> None:
    case = case_no(41)
    notif.sender.backoff = (timedelta(milliseconds=300),)
    async with http_client() as client:
        for sim in ("sms", "sms_b"):
            await client.post(f"{notif.sim(sim)}/_sim/fail", params={"count": 2})
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, UNLISTED))
    await eventually(lambda: _all_sms(notif, case), until=lambda n: n >= 1, what="SMS after the outage")
    await notif.quiescent()
    (row,) = await notif.rows(case)
    assert await _all_sms(notif, case) == 1 and row.status == "sent" and row.attempts == 3
    assert row.provider == "aliyun"  # first in order again once it is back


async def _all_sms(hub: NotificationHub, case: str) -> int:
    return len(await hub.sms("sms", case)) + len(await hub.sms("sms_b", case))


# --- receipts ---------------------------------------------------------------------------------------


async def test_a_delivered_receipt_is_recorded_and_said(notif: NotificationHub) -> None:
    case = case_no(42)
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, UNLISTED))
    await eventually(lambda: notif.sms(case_no=case), what="SMS")
    await notif.quiescent()
    pushed = (await notif.post("sms", "/_sim/deliver-receipts")).json()
    assert pushed["status"] == 200 and pushed["answer"]["code"] == 0
    assert (await notif.post("sms", "/_sim/deliver-receipts", params={"all": True})).json()["answer"] == {
        "code": 0,
        "msg": "成功",
        "outcomes": {"duplicate": 1},
    }
    (row,) = await notif.rows(case)
    assert (row.status, row.receipt_status, row.receipt_code) == ("delivered", "delivered", "DELIVERED")
    await eventually(
        lambda: _events(notif, NotificationDeliveredV1.TYPE, case), what="notification.delivered.v1"
    )


async def test_undelivered_after_retries_is_failed_said_and_listed_for_ops_without_the_phone(
    notif: NotificationHub,
) -> None:
    case = case_no(43)
    notif.sender.max_attempts = 2
    notif.sender.backoff = (timedelta(milliseconds=200),)
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, UNLISTED))
    await eventually(lambda: notif.sms(case_no=case), what="first SMS")
    await notif.quiescent()
    undelivered = {"success": False, "err_code": "MOBILE_NOT_ON_SERVICE"}
    first = (await notif.post("sms", "/_sim/deliver-receipts", params=undelivered)).json()
    assert first["answer"]["outcomes"] == {"resend": 1}
    await eventually(lambda: notif.sms(case_no=case), until=lambda items: len(items) == 2, what="resend")
    await notif.quiescent()
    second = (await notif.post("sms", "/_sim/deliver-receipts", params=undelivered)).json()
    assert second["answer"]["outcomes"] == {"failed": 1}
    failed = await eventually(lambda: _events(notif, NotificationFailedV1.TYPE, case), what="failed event")
    assert failed[0].data["reason"] == "undelivered: MOBILE_NOT_ON_SERVICE"

    async with http_client() as client:
        listing = await client.get(
            f"{notif.url}/internal/v1/deliveries",
            params={"status": "failed"},
            headers=as_actor("notification"),
        )
    assert listing.status_code == 200
    doc = listing.json()
    assert doc["count"] == 1 and doc["items"][0]["case_no"] == case
    assert doc["items"][0]["receipt_status"] == "undelivered" and doc["items"][0]["attempts"] == 2
    text = listing.text
    assert national(CITIZEN) not in text and "recipient" not in json.dumps(doc["items"][0]).replace(
        "recipient_kind", ""
    )
    assert len(await notif.sms(case_no=case)) == 2  # handed over twice, both reported undelivered
    async with http_client() as client:
        metrics = (await client.get(f"{notif.url}/metrics")).text
    assert 'hub_notification_deliveries_total{channel="sms",outcome="failed"} 1.0' in metrics


async def _events(hub: NotificationHub, type_: str, case: str) -> list[Any]:
    return hub.events(type_, case)


async def test_a_receipt_that_overtakes_the_record_of_its_send_is_asked_again(notif: NotificationHub) -> None:
    case = case_no(44)
    await notif.publish(registered(notif, case))
    await notif.publish(dispatched(case, UNLISTED))
    await eventually(lambda: notif.sms(case_no=case), what="SMS")
    await notif.quiescent()
    (row,) = await notif.rows(case)
    async with notif.runtime.db.transaction() as session:  # as if the send were still being recorded
        from services.notification.tables import deliveries

        await session.execute(deliveries.update().values(status="sending"))
    report = {"success": True, "err_code": "DELIVERED", "biz_id": row.provider_ref, "out_id": row.id}
    busy = await notif.post("notification", "/internal/v1/sms/receipts", json=[report])
    assert busy.status_code == 503 and busy.headers["content-type"] == "application/problem+json"


# --- configuration --------------------------------------------------------------------------------


def test_providers_come_from_settings_in_failover_order_and_a_missing_smpp_adapter_is_skipped_loudly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from services.notification.main import ProviderConfigError, build_providers

    client = http_client()
    with pytest.raises(ValueError, match="unknown provider"):
        NotificationSettings(sms_providers=("aliyun", "twilio"))
    # As if this build had no SMPP adapter.
    monkeypatch.setitem(sys.modules, "services.notification.sms.smpp.adapter", None)
    with caplog.at_level(logging.ERROR, logger="hub.notification"):
        providers = build_providers(NotificationSettings(sms_providers=("smpp", "aliyun")), client)
    assert [p.name for p in providers] == ["aliyun"]
    assert "HUB_SMS_PROVIDERS lists smpp but this build has no SMPP adapter" in caplog.text
    with pytest.raises(ProviderConfigError, match="no usable SMS provider"):
        build_providers(NotificationSettings(sms_providers=("smpp",)), client)


# --- SMPP as the second provider ------------------------------------------------------------------


async def test_aliyun_down_fails_over_to_smpp_whose_receipt_is_recorded(
    spans: Any, backend: str, tmp_path: Path
) -> None:
    smpp_sim = pytest.importorskip("services.notification.sms.smpp.simulator.smsc")
    simulator = smpp_sim.SmppSimulator(system_id="hub", password="dev-smpp")
    await simulator.start()
    try:
        update = {"sms_providers": ("aliyun", "smpp"), "smpp_port": simulator.port}
        async with notification_hub(backend, tmp_path, settings_update=update, providers=None) as hub:
            assert [p.name for p in hub.sender.providers] == ["aliyun", "smpp"]
            case = case_no(45)
            async with http_client() as client:
                await client.post(f"{hub.sim('sms')}/_sim/fail", params={"count": 1})
            await hub.publish(registered(hub, case))
            await hub.publish(dispatched(case, UNLISTED))
            await simulator.wait_until(lambda: any(case in m.text for m in simulator.received), timeout=20)
            row = await eventually(
                lambda: _row(hub, case),
                until=lambda r: r is not None and r.status == "delivered",
                what="receipt",
            )
            assert row.provider == "smpp" and row.receipt_status == "delivered"
            assert await hub.sms(case_no=case) == []
            (message,) = [m for m in simulator.received if case in m.text]
            assert (
                message.text.startswith("【昆都仑区综治中心】您反映的事项已受理") and message.data_coding == 8
            )
            assert row.segments == len(message.parts)
    finally:
        await simulator.stop()


async def _row(hub: NotificationHub, case: str) -> Any:
    rows = await hub.rows(case)
    return rows[0] if rows else None
