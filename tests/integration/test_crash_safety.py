"""Crash safety of the platform: SIGKILL at the worst moments loses no case and duplicates nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_walking_skeleton import CASE
from tests.kit.auth import auth_headers
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings
from tests.kit.processes import ProcessHub, process_hub
from tests.kit.quiescence import wait_quiescent
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

ARTIFACTS = Path("test-artifacts")


@pytest.fixture
async def procs(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[ProcessHub]:
    log_dir = ARTIFACTS / "logs" / request.node.name.replace("/", "_")
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        process_hub(make_settings(tmp_path, amqp_url, db_url, auth_required=True), log_dir) as hub,
    ):
        await auth_headers(hub)  # a centre client in the gateway database (by its URL) and its token
        yield hub


async def _post(hub: ProcessHub, body: dict[str, Any]) -> dict[str, Any]:
    async with http_client() as client:
        response = await client.post(
            f"{hub.gateway}/api/v1/cases", json=body, headers=await auth_headers(hub), timeout=30
        )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _referrals(hub: ProcessHub, case_no: str) -> list[dict[str, Any]]:
    async with http_client() as client:
        response = await client.get(
            f"{hub.url('referral')}/internal/v1/cases/{case_no}", headers=as_actor("referral"), timeout=10
        )
    if response.status_code == 404:
        return []
    refs: list[dict[str, Any]] = response.json()["referrals"]
    return refs


async def _sms_for(hub: ProcessHub, case_no: str) -> list[dict[str, Any]]:
    return acceptance(await hub.sms_received(), case_no)  # type: ignore[arg-type]


def _once_per_department(refs: list[dict[str, Any]]) -> bool:
    """Exactly one lead and no department twice: dispatched exactly once per department."""
    return len([r for r in refs if r["role"] == "lead"]) == 1 and len({r["department"] for r in refs}) == len(
        refs
    )


async def test_referral_killed_before_consuming_dispatches_once_after_restart(procs: ProcessHub) -> None:
    await procs.kill("referral")
    case_no = (await _post(procs, CASE))["case_no"]  # intake commits while referral is down

    await procs.start("referral")
    refs = await eventually(lambda: _referrals(procs, case_no), until=lambda r: len(r) >= 1, what="dispatch")
    await eventually(lambda: _sms_for(procs, case_no), what="acceptance SMS")
    await wait_quiescent(procs.settings)  # nothing left in flight that could still duplicate
    refs, sms = await _referrals(procs, case_no), await _sms_for(procs, case_no)
    assert _once_per_department(refs) and len(sms) == 1
    print(f"\nreferral killed before consuming: referrals={len(refs)} acceptance sms={len(sms)}")


@pytest.mark.parametrize(
    "failpoint", ["referral.consumer.after_effect_before_commit", "referral.consumer.after_commit_before_ack"]
)
async def test_referral_killed_mid_message_dispatches_exactly_once(procs: ProcessHub, failpoint: str) -> None:
    await procs.kill("referral")
    await procs.start("referral", HUB_FAILPOINTS=f"{failpoint}=kill")
    case_no = (await _post(procs, CASE))["case_no"]
    code = await procs.wait_exit("referral")  # the failpoint SIGKILLs the process mid-message
    assert code == -9

    await procs.start("referral")  # marker file: the failpoint does not fire twice
    await eventually(lambda: _referrals(procs, case_no), until=lambda r: len(r) >= 1, what="dispatch")
    await eventually(lambda: _sms_for(procs, case_no), what="acceptance SMS")
    await wait_quiescent(procs.settings)
    refs, sms = await _referrals(procs, case_no), await _sms_for(procs, case_no)
    async with http_client() as client:
        entries = (
            await client.get(
                f"{procs.gateway}/api/v1/cases/{case_no}/timeline", headers=await auth_headers(procs)
            )
        ).json()
    dispatched = [e for e in entries if e["event"] == "referral.dispatched.v1"]
    assert _once_per_department(refs) and len(sms) == 1 and len(dispatched) == len(refs)
    print(f"\n{failpoint}: referrals={len(refs)} sms={len(sms)} dispatched events={len(dispatched)}")


async def test_intake_killed_between_commit_and_publish_loses_nothing(procs: ProcessHub) -> None:
    await procs.kill("intake")
    await procs.start("intake", HUB_FAILPOINTS="intake.relay.before_publish=kill")
    async with http_client() as client:
        response = await client.post(
            f"{procs.gateway}/api/v1/cases", json=CASE, headers=await auth_headers(procs), timeout=30
        )
    assert response.status_code == 201  # committed and answered before the relay died
    case_no = response.json()["case_no"]
    assert await procs.wait_exit("intake") == -9

    await procs.start("intake")
    await eventually(lambda: _sms_for(procs, case_no), what="acceptance SMS")
    await wait_quiescent(procs.settings)
    refs, sms = await _referrals(procs, case_no), await _sms_for(procs, case_no)
    assert _once_per_department(refs) and len(sms) == 1


@pytest.mark.parametrize(
    "failpoint",
    ["notification.consumer.after_effect_before_commit", "notification.consumer.after_commit_before_ack"],
)
async def test_a_batching_consumer_killed_mid_batch_handles_each_event_once(
    procs: ProcessHub, failpoint: str
) -> None:
    """Notification batches (HUB_CONSUMER_BATCH): a backlog arrives at once and shares a transaction;
    killed before its commit, every event comes back; killed between the commit and the acks, every
    event comes back and the inbox absorbs each."""
    await procs.kill("notification")
    case_nos = [
        (await _post(procs, {**CASE, "reporter": {**CASE["reporter"], "phone": f"1390000{i:04d}"}}))[
            "case_no"
        ]
        for i in range(5)
    ]
    for case_no in case_nos:  # dispatched while notification is down: its events wait in its queue
        await eventually(lambda n=case_no: _referrals(procs, n), until=lambda r: len(r) >= 1, what="dispatch")
    try:  # the backlog may reach the failpoint before the process reports ready
        await procs.start("notification", HUB_FAILPOINTS=f"{failpoint}=kill")
    except AssertionError as exc:
        assert "exited with -9" in str(exc), exc
    assert await procs.wait_exit("notification") == -9  # killed in the middle of the backlog

    await procs.start("notification")
    for case_no in case_nos:
        await eventually(lambda n=case_no: _sms_for(procs, n), what=f"acceptance SMS of {case_no}")
    await wait_quiescent(procs.settings)
    sms = {case_no: len(await _sms_for(procs, case_no)) for case_no in case_nos}
    assert sms == dict.fromkeys(case_nos, 1), sms
    print(f"\n{failpoint}: {len(case_nos)} cases, acceptance sms per case {sorted(set(sms.values()))}")
