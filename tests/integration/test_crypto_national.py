"""National cryptography (HUB_CRYPTO=national: SM4-GCM, HMAC-SM3) on real databases, both backends:

- a reporter's phone ciphertext copied into another case's row does not decrypt through the reveal
  endpoint: a clear problem (409), audited, never a 500 and never the other person's number;
- `hub pii rotate` with a new personal-data key *and* a new hash key: every value readable under the
  new key only, the audit chain verifying across the key change (a new segment), and phone lookups
  (duplicates, opt-outs, repeat-reporter keys) still matching when the hub runs on the new keys.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import select, update

from hub import audit
from hub.config import Settings
from hub.contracts.intake import CaseRegisteredV1, ReporterContact, reporter_phone_aad
from hub.crypto import FieldCipher, Suite, keyed_hash, reporter_key
from hub.messaging.envelope import Event
from hubcli.audit import rotate_all, verify_all
from services.intake.case_columns import reporter_aad
from services.intake.tables import cases
from services.notification.ledger import opted_out
from services.notification.tables import contacts, deliveries, delivery_aad
from services.referral.tables import signal_sightings
from tests.integration.test_intake_service import (
    PHONE,
    WINDOW_CASE,
    actor,
    api,
    assert_chain_ok,
    audit_entries,
    hotline_order,
    register,
)
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.quiescence import wait_quiescent
from tests.kit.waiting import eventually

E164 = "+86" + PHONE
OTHER_PHONE = "13900002222"
NEW_PII_KEY = base64.b64encode(b"new-sm4-key-16by").decode()
NEW_HASH_KEY = "rotated-hash-key-2"
REVEAL_WHY = {"purpose": "电话联系当事人核实"}


@pytest.fixture
async def national_hub(
    spans: InMemorySpanExporter, backend: str, tmp_path: Path
) -> AsyncIterator[InProcessHub]:
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, crypto="national")) as running,
    ):
        yield running


async def test_a_phone_copied_to_another_case_does_not_decrypt(national_hub: InProcessHub) -> None:
    hub = national_hub
    assert hub.settings.crypto is Suite.national
    first = (await register(hub))["case_no"]
    second = (
        await register(
            hub,
            {
                **WINDOW_CASE,
                "title": "小区门口占道经营",
                "reporter": {"name": "李先生", "phone": OTHER_PHONE},
                "location": {"address": "青山区幸福路8号", "street_code": "150204001000"},
            },
        )
    )["case_no"]
    async with hub.runtime("intake").db.transaction() as session:
        stolen = (
            await session.execute(select(cases.c.reporter_phone_enc).where(cases.c.case_no == first))
        ).scalar_one()
        assert stolen.startswith("v2.sm4gcm.")
        await session.execute(
            update(cases).where(cases.c.case_no == second).values(reporter_phone_enc=stolen)
        )

    refused = await api(
        hub, "POST", f"/cases/{second}/personal-data", json=REVEAL_WHY, headers=actor("centre", "disp-009")
    )
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert "personal-data-undecryptable" in problem["type"] and "phone" in problem["detail"]
    assert PHONE not in refused.text and OTHER_PHONE not in refused.text

    own = await api(
        hub, "POST", f"/cases/{first}/personal-data", json=REVEAL_WHY, headers=actor("centre", "disp-009")
    )
    assert own.status_code == 200 and own.json()["phone"] == E164
    entries = await audit_entries(hub, second)
    assert entries[-1].action == "personal_data.undecryptable" and entries[-1].detail == {"fields": ["phone"]}
    assert entries[-1].mac == "hmac-sm3"
    assert_chain_ok(await audit_entries(hub), hub)


DLQ = "notification.events.dlq"


def _registered_event(hub: InProcessHub, case_no: str) -> bytes:
    data = CaseRegisteredV1(
        case_no=case_no,
        channel="window",
        request_type="complaint",
        category="noise",
        title="夜间施工噪声扰民",
        colour="blue",
        response_level="immediate",
        registered_at=datetime.now(UTC),
        reporter=ReporterContact(
            phone_enc=hub.runtime("intake").cipher.encrypt(E164, aad=reporter_phone_aad(case_no)),
            phone_hash=keyed_hash(hub.settings.hash_key, E164),
            sms_capable=True,
        ),
    )
    return Event(
        type=data.TYPE, source="hub/intake", subject=case_no, data=data.model_dump(mode="json")
    ).to_json()


async def _dead_letter(settings: Settings, body: bytes) -> None:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.default_exchange.publish(aio_pika.Message(body, message_id="dead-1"), routing_key=DLQ)
    finally:
        await connection.close()


async def _take_dead_letter(settings: Settings) -> dict[str, Any]:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(DLQ, passive=True)
        message = await queue.get(no_ack=True)
        assert message.message_id == "dead-1"
        event: dict[str, Any] = json.loads(message.body)
        return event
    finally:
        await connection.close()


async def _contact_hash(settings: InProcessHub, case_no: str) -> str | None:
    async with settings.runtime("notification").db.sessions() as session:
        return (
            await session.execute(select(contacts.c.phone_hash).where(contacts.c.case_no == case_no))
        ).scalar()


async def _sighting_key(hub: InProcessHub, case_no: str) -> str | None:
    async with hub.runtime("referral").db.sessions() as session:
        return (
            await session.execute(
                select(signal_sightings.c.reporter_key).where(signal_sightings.c.case_no == case_no)
            )
        ).scalar()


async def test_rotating_both_keys_keeps_data_lookups_and_the_audit_chain(
    spans: InMemorySpanExporter, backend: str, tmp_path: Path
) -> None:
    async with isolated_backends(backend) as (amqp_url, db_url):
        before = make_settings(tmp_path, amqp_url, db_url, crypto="national")
        async with running_hub(before) as hub:
            original = (await register(hub))["case_no"]
            await api(hub, "POST", f"/cases/{original}/personal-data", json=REVEAL_WHY)
            async with http_client() as client:
                opted = await client.post(
                    f"{hub.apps['notification'].url}/internal/v1/opt-outs",
                    json={"phone": E164},
                    headers=as_actor("notification"),
                    timeout=30,
                )
            assert opted.status_code == 201, opted.text
            await eventually(lambda: _contact_hash(hub, original), what="notification's contact")
            await eventually(lambda: _sighting_key(hub, original), what="referral's sighting")
            await wait_quiescent(before)
            # An event that was dead-lettered: its copy of the phone lives only in the broker.
            await _dead_letter(before, _registered_event(hub, "ZZ-20261122-900009"))

        after = make_settings(
            tmp_path,
            amqp_url,
            db_url,
            crypto="national",
            pii_key=NEW_PII_KEY,
            pii_old_keys=(before.pii_key,),
            hash_key=NEW_HASH_KEY,
            hash_key_version=2,
            hash_old_keys=(f"1:{before.hash_key}",),
        )
        reports = {r.service: r for r in await rotate_all(after)}
        assert sum(r.undecryptable for r in reports.values()) == 0
        assert sum(r.unmapped for r in reports.values()) == 0
        tables = {(r.service, t.table): t for r in reports.values() for t in r.tables}
        assert tables[("intake", "cases")].values == 3 and tables[("intake", "cases")].hashes == 2
        assert tables[("intake", "outbox")].values >= 1  # the event's own copy of the phone
        assert tables[("notification", "opt_outs")].hashes == 1

        verified = {v.service: v for v in await verify_all(after)}
        assert all(v.ok for v in verified.values()), verified
        intake_chain = verified["intake"].result
        assert intake_chain is not None
        assert [s[:2] for s in intake_chain.segments] == [(1, "hmac-sm3"), (2, "hmac-sm3")]
        without_old = Settings(**{**after.model_dump(), "hash_old_keys": ()})
        assert not (await verify_all(without_old))[1].ok  # history needs its key version

        new_phone_hash = keyed_hash(after.hash_key, E164)
        only_new = FieldCipher(NEW_PII_KEY, suite=Suite.national)
        async with running_hub(after) as hub:
            async with hub.runtime("intake").db.sessions() as session:
                row = (await session.execute(select(cases).where(cases.c.case_no == original))).one()
            aad = reporter_aad(original, "reporter_phone_enc")
            assert only_new.decrypt(row.reporter_phone_enc, aad=aad) == E164
            assert row.reporter_phone_hash == new_phone_hash
            assert await _contact_hash(hub, original) == new_phone_hash
            assert await _sighting_key(hub, original) == reporter_key(after.hash_key, new_phone_hash)
            async with hub.runtime("notification").db.sessions() as session:
                assert await opted_out(session, [new_phone_hash]) == {new_phone_hash}
                to_citizen = list(
                    await session.execute(
                        select(deliveries).where(
                            deliveries.c.case_no == original, deliveries.c.recipient_kind == "citizen"
                        )
                    )
                )
            for delivery in to_citizen:  # rate limits and once-only keys follow the phone's new hash
                assert (
                    delivery.recipient_hash == new_phone_hash and f":{new_phone_hash}:" in delivery.dedup_key
                )
                assert only_new.decrypt(delivery.recipient_enc, aad=delivery_aad(delivery.id)) == E164

            # The same reporter again, elsewhere in the city: found by the rotated phone hash.
            again = await register(
                hub,
                hotline_order(
                    "GD2026112200901", location={"address": "青山区幸福路8号", "street_code": "150204001000"}
                ),
            )
            assert again["duplicate_of"] == original
            shown = await api(hub, "POST", f"/cases/{original}/personal-data", json=REVEAL_WHY)
            assert shown.status_code == 200 and shown.json()["phone"] == E164
            assert_chain_ok(await audit_entries(hub), hub)
            assert (await audit_entries(hub))[-1].key_version == 2
        assert all(v.ok for v in await verify_all(after))
        event = await _take_dead_letter(after)
        assert event["data"]["reporter"]["phone_enc"].startswith("v2.sm4gcm.")
        aad = reporter_phone_aad("ZZ-20261122-900009")
        assert only_new.decrypt(event["data"]["reporter"]["phone_enc"], aad=aad) == E164
        assert event["data"]["reporter"]["phone_hash"] == new_phone_hash
        assert tables[("broker", "dead-letter queues")].values == 1
        assert audit.verify([], after.hash_key).ok
