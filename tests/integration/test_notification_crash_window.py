"""At most once per (event, recipient, template) when the notification process is SIGKILLed between
the provider's answer and our record of it (failpoint notification.sender.after_provider_before_record).

Aliyun has no idempotency key, so the sender asks QuerySendDetails for the out-id before sending a
delivery whose lease expired mid-send. The test counts what the provider simulator received and
prints it: 1 when the provider's record is visible (exactly once), 2 when it is not yet (the
documented at-least-once residue; simulated with the simulator's `query_send_details: empty`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aio_pika
import httpx
import pytest

from hub.crypto import field_cipher
from services.notification.domain.phones import national
from tests.integration.test_notification_kit import (
    CASE_ACCEPTED,
    CITIZEN,
    case_no,
    dispatched,
    registered,
)
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings
from tests.kit.processes import ProcessHub, process_hub
from tests.kit.waiting import eventually

ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))
FAILPOINT = "notification.sender.after_provider_before_record"


@pytest.fixture
async def procs(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[ProcessHub]:
    log_dir = ARTIFACTS / "logs" / request.node.name.replace("/", "_")
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        process_hub(make_settings(tmp_path, amqp_url, db_url), log_dir, start=("sms", "notification")) as hub,
    ):
        yield hub


async def _publish(hub: ProcessHub, *events: Any) -> None:
    from hub.messaging.publisher import Publisher, connect

    connection = await connect(hub.settings)
    try:
        publisher = Publisher(connection, hub.settings)
        await publisher.start()
        for event in events:
            await publisher.publish(event.to_json(), event.type, message_id=event.id)
    finally:
        await connection.close()


async def _delivery(hub: ProcessHub, case: str) -> dict[str, Any] | None:
    async with http_client() as client:
        try:
            response = await client.get(
                f"{hub.url('notification')}/internal/v1/deliveries",
                params={"case_no": case},
                headers=as_actor("notification"),
                timeout=5,
            )
        except httpx.HTTPError:
            return None
    items = [d for d in response.json()["items"] if d["template"] == "case_accepted"]
    return items[0] if items else None


async def _accepted_sms(hub: ProcessHub, case: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await hub.sms_received()
        if m["template_code"] == CASE_ACCEPTED and case in str(m["text"]) and m["phone"] == national(CITIZEN)
    ]


@pytest.mark.parametrize(
    ("provider_record", "expected_sms", "expected_recovery"),
    [("visible", 1, "confirmed_by_lookup"), ("not_yet_visible", 2, "resent_after_lookup")],
)
async def test_killed_between_provider_call_and_record(
    procs: ProcessHub, provider_record: str, expected_sms: int, expected_recovery: str
) -> None:
    query = "normal" if provider_record == "visible" else "empty"
    async with http_client() as client:
        await client.post(f"{procs.url('sms')}/_sim/config", json={"query_send_details": query})
    # Something must be bound to every event notification says (the gateway's timeline is not here).
    connection = await aio_pika.connect(procs.settings.amqp_url)
    channel = await connection.channel()
    sink = await channel.declare_queue("test.sink", auto_delete=False)
    await sink.bind(procs.settings.exchange, routing_key="#")
    try:
        await procs.kill("notification")
        await procs.start("notification", HUB_FAILPOINTS=f"{FAILPOINT}=kill")
        case = case_no(90)
        builder = SimpleNamespace(
            runtime=SimpleNamespace(cipher=field_cipher(procs.settings)), settings=procs.settings
        )
        await _publish(procs, registered(builder, case), dispatched(case, "nowhere@000000"))  # type: ignore[arg-type]
        assert await procs.wait_exit("notification") == -9  # killed after the provider said OK
        before = len(await _accepted_sms(procs, case))
        row = await _delivery(procs, case)
        assert before == 1

        await procs.start("notification")  # the marker file keeps the failpoint from firing again
        row = await eventually(
            lambda: _delivery(procs, case),
            until=lambda r: r is not None and r["status"] == "sent",
            what="the interrupted delivery settled",
            timeout=60,
        )
        sms = await _accepted_sms(procs, case)
        print(
            f"\ncrash between provider call and record (Aliyun, provider record {provider_record}): "
            f"SMS received by the provider = {len(sms)}, recovery = {row['recovery'] if row else None}"
        )
        assert row is not None and row["recovery"] == expected_recovery
        assert len(sms) == expected_sms  # the guarantee of docs/providers.md, per case
        assert {m["out_id"] for m in sms} == {row["id"]}  # one delivery; any second copy is the same out-id
    finally:
        await connection.close()
