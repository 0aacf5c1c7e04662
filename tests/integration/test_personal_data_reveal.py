"""Issue 14: revealing a reporter's personal data needs a stated purpose, is audited with the person
(user id, display name, centre) and the purpose, and is limited per person and hour (429, audited);
the limit holds per person, not per case or per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hub import audit
from services.intake.tables import audit_log
from tests.integration.test_authorisation_matrix import COMMUNITY, OTHER_STREET, case_body
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub

pytestmark = pytest.mark.integration

LIMIT = 3
PURPOSE = "电话联系当事人，约定调解时间"


@pytest.fixture
async def hub(spans: InMemorySpanExporter, backend: str, tmp_path: Path) -> AsyncIterator[InProcessHub]:
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, intake_reveals_per_hour=LIMIT)) as running,
    ):
        yield running


def person(user: str, centre: str = COMMUNITY, name: str = "李调解员") -> dict[str, str]:
    return {
        "X-Hub-Actor-Role": "centre",
        "X-Hub-Actor-Id": user,
        "X-Hub-Actor-Centre": centre,
        "X-Hub-Actor-Name": quote(name),
    }


async def entries(hub: InProcessHub) -> list[Any]:
    async with hub.runtime("intake").db.sessions() as session:
        rows = await audit.read_chain(session, audit_log)
    assert audit.verify(rows, hub.settings.hash_key).ok
    return rows


async def test_a_reveal_states_its_purpose_names_the_person_and_is_limited_per_person(
    hub: InProcessHub,
) -> None:
    async with http_client(base_url=hub.gateway) as http:
        case_no = (await http.post("/api/v1/cases", json=case_body("other", COMMUNITY))).json()["case_no"]
        path = f"/api/v1/cases/{case_no}/personal-data"

        get = await http.get(path, headers=person("u-1"))  # no longer a GET: the purpose is in the body
        assert get.status_code == 405
        missing = await http.post(path, json={}, headers=person("u-1"))
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "purpose"
        short = await http.post(path, json={"purpose": "看看"}, headers=person("u-1"))
        assert short.status_code == 422 and short.json()["title"] == "请说明查看个人信息的用途"
        beside = await http.post(path, json={"purpose": PURPOSE}, headers=person("u-9", OTHER_STREET))
        assert beside.status_code == 404  # another street's person: as if the case did not exist

        for _ in range(LIMIT):
            seen = await http.post(path, json={"purpose": f"{PURPOSE} 13812341234"}, headers=person("u-1"))
            assert seen.status_code == 200 and seen.json()["name"] == "王女士"
        over = await http.post(path, json={"purpose": PURPOSE}, headers=person("u-1"))
        assert over.status_code == 429, over.text
        assert over.headers["content-type"].startswith("application/problem+json")
        assert over.json()["title"] == "查看个人信息过于频繁" and int(over.headers["retry-after"]) > 0
        assert "王女士" not in over.text
        # Per person: a colleague at the same centre still may.
        other = await http.post(path, json={"purpose": PURPOSE}, headers=person("u-2", name="赵主任"))
        assert other.status_code == 200

    rows = [r for r in await entries(hub) if r.action.startswith("personal_data.")]
    reads = [r for r in rows if r.action == "personal_data.read"]
    assert [r.actor_id for r in reads] == ["u-1"] * LIMIT + ["u-2"]
    first = reads[0].detail
    assert first["person"] == {"id": "u-1", "name": "李调解员", "centre": COMMUNITY}
    assert first["purpose"] == "电话联系当事人，约定调解时间 138****1234"  # numbers in it masked
    assert reads[-1].detail["person"]["name"] == "赵主任"
    (denied,) = [r for r in rows if r.action == "personal_data.read_denied"]
    assert denied.actor_id == "u-1" and denied.detail["why"] == "rate_limited"
