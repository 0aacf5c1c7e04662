"""The trust boundary inside the hub (issue 14, decision 0009): the services behind the gateway take only
requests carrying the gateway's internal credential, addressed to them, unexpired, signed with the key
they trust; notification takes SMS receipts and replies only from the gateway's SMS adapter.

A request straight to a service's port without one is 401 with nothing read or written; the same request
through the gateway works; the SMS simulator's pushes reach notification through the gateway.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from hub.credentials import (
    CREDENTIAL_HEADER,
    DEV_INTERNAL_SIGNING_KEY,
    ISSUER,
    CredentialMinter,
    Principal,
    new_signing_key,
)
from hub.problems import PROBLEM_JSON
from services.intake.tables import audit_log as intake_audit
from services.intake.tables import cases
from services.notification.tables import opt_outs
from tests.case_rows import written_about
from tests.integration.test_walking_skeleton import CASE
from tests.kit.credentials import as_actor, sms_adapter
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

pytestmark = pytest.mark.integration

CENTRE = Principal(kind="client", id="centre-test", role="centre")
PHONE = "13812349876"
SERVICES = ("intake", "referral", "notification")


def forged(service: str) -> dict[str, str]:
    """Signed with a key the services do not trust (under a key id of its own)."""
    return CredentialMinter(new_signing_key()).headers(CENTRE, service)


def forged_under_the_real_key_id(service: str) -> dict[str, str]:
    """Claims the development key's id but is signed with another key."""
    genuine = CredentialMinter(DEV_INTERNAL_SIGNING_KEY).mint(CENTRE, service)
    kid = jwt.get_unverified_header(genuine)["kid"]
    now = int(time.time())
    claims = {"sub": "intruder", "knd": "client", "role": "centre", "iss": ISSUER, "aud": service}
    token = jwt.encode(
        {**claims, "iat": now, "exp": now + 60},
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    return {CREDENTIAL_HEADER: token}


def expired(service: str) -> dict[str, str]:
    return CredentialMinter(DEV_INTERNAL_SIGNING_KEY, ttl_s=-60).headers(CENTRE, service)


def for_another(service: str) -> dict[str, str]:
    """A genuine credential, addressed to another service."""
    return as_actor(next(s for s in SERVICES if s != service))


def assert_refused(response: httpx.Response, status: int = 401, type_: str = "internal-credential") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["type"].endswith(f"/{type_}"), problem
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem["title"]), problem  # a Chinese title


async def case_count(hub: InProcessHub) -> int:
    async with hub.runtime("intake").db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(cases))).scalar_one())


async def opt_out_count(hub: InProcessHub) -> int:
    async with hub.runtime("notification").db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(opt_outs))).scalar_one())


async def register_through_gateway(hub: InProcessHub, **headers: str) -> str:
    async with http_client(base_url=hub.gateway) as client:
        response = await client.post("/api/v1/cases", json=CASE, headers=headers)
    assert response.status_code == 201, response.text
    case_no: str = response.json()["case_no"]
    return case_no


async def test_a_service_port_without_a_valid_credential_answers_401_and_nothing_is_read_or_written(
    hub: InProcessHub,
) -> None:
    case_no = await register_through_gateway(hub)
    before_cases, before_opt_outs = await case_count(hub), await opt_out_count(hub)
    before_rows = await written_about(hub, case_no)
    intake, referral, notification = (hub.url(s) for s in SERVICES)
    actor_headers = {"X-Hub-Actor-Role": "centre", "X-Hub-Actor-Id": "someone"}  # trusted once, no more
    async with http_client() as client:
        for headers in ({}, actor_headers):
            # Writes: a case, a citizen's reply, an opt-out, a centre's action on a case.
            assert_refused(await client.post(f"{intake}/internal/v1/cases", json=CASE, headers=headers))
            inbound = [{"phone_number": PHONE, "content": "TD", "dest_code": "1069000", "sequence_id": 1}]
            assert_refused(
                await client.post(f"{notification}/internal/v1/sms/inbound", json=inbound, headers=headers)
            )
            assert_refused(
                await client.post(
                    f"{notification}/internal/v1/opt-outs", json={"phone": PHONE}, headers=headers
                )
            )
            assert_refused(
                await client.post(
                    f"{referral}/internal/v1/cases/{case_no}/callback",
                    json={"satisfaction": "unsatisfied"},
                    headers=headers,
                )
            )
            # Reads: personal data, the case, the lists, the ops views, the API description.
            for url in (
                f"{intake}/internal/v1/cases/{case_no}/personal-data",
                f"{intake}/internal/v1/cases/{case_no}",
                f"{referral}/internal/v1/cases",
                f"{referral}/internal/v1/ops/stalled",
                f"{notification}/internal/v1/deliveries",
                f"{intake}/internal/v1/ops/outbox",
                f"{intake}/docs",
                f"{intake}/openapi.json",
            ):
                assert_refused(await client.get(url, headers=headers))
        # Forged (unknown key, or the known key id with another key), expired, for another service.
        for bad in (forged, forged_under_the_real_key_id, expired, for_another):
            assert_refused(await client.post(f"{intake}/internal/v1/cases", json=CASE, headers=bad("intake")))
            personal = f"{intake}/internal/v1/cases/{case_no}/personal-data"
            assert_refused(await client.get(personal, headers=bad("intake")))
            assert_refused(await client.get(f"{referral}/internal/v1/cases", headers=bad("referral")))
            deliveries = f"{notification}/internal/v1/deliveries"
            assert_refused(await client.get(deliveries, headers=bad("notification")))
        expired_at_intake = await client.get(f"{intake}/internal/v1/cases", headers=expired("intake"))
        detail = expired_at_intake.json()["detail"]
        assert "过期" in detail
        # Still open: liveness, readiness, metrics.
        for service in SERVICES:
            for path in ("/healthz", "/readyz", "/metrics"):
                assert (await client.get(f"{hub.url(service)}{path}")).status_code == 200, (service, path)
    assert (await case_count(hub), await opt_out_count(hub)) == (before_cases, before_opt_outs)
    # Nothing about the case changed in intake or referral (the refused callback, the refused reads'
    # audit entries): every row they hold about it, audit included, is as it was.
    assert await written_about(hub, case_no) == before_rows

    # The same calls through the gateway: it mints the credential, the services take it.
    await register_through_gateway(hub)
    assert await case_count(hub) == before_cases + 1
    async with http_client(base_url=hub.gateway) as client:
        revealed = await client.post(
            f"/api/v1/cases/{case_no}/personal-data", json={"purpose": "电话联系当事人"}
        )
        assert revealed.status_code == 200, revealed.text
        assert (await client.get("/api/v1/referrals")).status_code == 200
    # And straight to the port with a genuine credential for it.
    async with http_client() as client:
        own = await client.get(f"{intake}/internal/v1/cases/{case_no}", headers=as_actor("intake"))
        assert own.status_code == 200 and own.json()["case_no"] == case_no


async def test_sms_pushes_are_taken_only_from_the_gateways_sms_adapter(hub: InProcessHub) -> None:
    notification = hub.url("notification")
    before = await opt_out_count(hub)
    inbound = [{"phone_number": PHONE, "content": "TD", "dest_code": "1069000", "sequence_id": 7}]
    receipt = [
        {"phone_number": PHONE, "success": True, "biz_id": "none", "out_id": "", "err_code": "DELIVERED"}
    ]
    not_the_sms_adapter = (
        as_actor("notification"),  # the centre
        as_actor("notification", "adapter", id="hotline12345", kind="system", system="hotline12345"),
        as_actor("notification", "adapter", id="sms", kind="client", system="sms"),  # a client, not a system
    )
    async with http_client(base_url=notification) as client:
        for headers in not_the_sms_adapter:
            refused = await client.post("/internal/v1/sms/inbound", json=inbound, headers=headers)
            assert_refused(refused, 403, "sms-adapter-only")
            refused = await client.post("/internal/v1/sms/receipts", json=receipt, headers=headers)
            assert_refused(refused, 403, "sms-adapter-only")
        assert_refused(
            await client.post("/internal/v1/sms/inbound", json=inbound, headers=sms_adapter("intake"))
        )
    assert await opt_out_count(hub) == before

    # The provider's push to the gateway: without our token in the URL, refused at the edge.
    async with http_client(base_url=hub.gateway) as client:
        for url in ("/adapters/sms/inbound", "/adapters/sms/inbound?token=guess"):
            assert_refused(await client.post(url, json=inbound), 401, "sms-webhook-token")
    assert await opt_out_count(hub) == before

    # The simulator pushes a citizen's "TD" through the gateway's adapter: notification records it.
    async with http_client(base_url=hub.sms) as sim:
        pushed = (await sim.post("/_sim/inbound", json={"phone": PHONE, "content": "TD"})).json()
    assert pushed["status"] == 200, pushed
    assert pushed["answer"]["code"] == 0 and sum(pushed["answer"]["outcomes"].values()) == 1, pushed
    assert await opt_out_count(hub) == before + 1


async def test_the_audit_names_the_person_or_the_system_behind_each_entry(hub: InProcessHub) -> None:
    # A named person (auth off: the headers the gateway trusts in that mode; a name is percent-encoded).
    person = {
        "X-Hub-Actor-Role": "centre",
        "X-Hub-Actor-Id": "u-zhang",
        "X-Hub-Actor-Name": quote("张三"),
        "X-Hub-Actor-Centre": "150203",
    }
    case_no = await register_through_gateway(hub, **person)
    async with http_client(base_url=hub.gateway) as client:
        revealed = await client.post(
            f"/api/v1/cases/{case_no}/personal-data", json={"purpose": "电话联系当事人"}, headers=person
        )
        assert revealed.status_code == 200, revealed.text
    async with hub.runtime("intake").db.sessions() as session:
        rows = list(await session.execute(select(intake_audit).where(intake_audit.c.case_no == case_no)))
    assert rows and all(
        (r.actor_kind, r.actor_id, r.actor_name, r.actor_role) == ("user", "u-zhang", "张三", "centre")
        for r in rows
    ), rows
