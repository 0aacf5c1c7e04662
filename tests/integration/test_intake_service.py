"""Intake's service side (受理/研判) through the gateway, on real RabbitMQ and both databases.

Idempotent registration under concurrency, supervisor override, category correction, merge and
unlink of suspected duplicates, personal data behind the centre role, and rule reloads — each state
change audited, each said as an event that reaches the case timeline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from hub import audit
from hub.contracts.intake import CaseMergedV1
from services.intake.domain.resources import read_rule_text
from services.intake.tables import audit_log, cases
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

PHONE = "13812341234"
ID_NUMBER = "150203196805123121"

WINDOW_CASE: dict[str, Any] = {
    "channel": "window",
    "request_type": "complaint",
    "title": "楼上私改公共烟道",
    "description": "楼上邻居私自改动公共烟道，油烟倒灌半年，多次协商无果",
    "reporter": {"name": "王女士", "phone": PHONE, "id_number": ID_NUMBER},
    "location": {"address": "昆都仑区阿尔丁大街东方花园3栋2单元302室", "street_code": "150203001000"},
    "people_involved": 2,
}


def hotline_order(source_ref: str, **overrides: Any) -> dict[str, Any]:
    """A 12345 work order re-reporting the window case in the hotline's own words."""
    return {
        **WINDOW_CASE,
        "channel": "hotline12345",
        "source_ref": source_ref,
        "title": "反映楼上住户私改烟道",
        "description": "市民来电反映：楼上住户私自改造公共烟道，导致油烟倒灌到家中，诉求尽快处理。",
        "reporter": {"name": "王女士", "phone": PHONE},
        "location": {"address": "阿尔丁大街东方花园3-2-302", "street_code": "150203001000"},
        **overrides,
    }


def actor(role: str | None = "centre", actor_id: str | None = "sup-001") -> dict[str, str]:
    headers = {}
    if role:
        headers["X-Hub-Actor-Role"] = role
    if actor_id:
        headers["X-Hub-Actor-Id"] = actor_id
    return headers


async def api(
    hub: InProcessHub,
    method: str,
    path: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    async with http_client() as client:
        return await client.request(method, f"{hub.gateway}/api/v1{path}", json=json, headers=headers)


async def register(hub: InProcessHub, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
    response = await api(hub, "POST", "/cases", json=body or WINDOW_CASE, headers=headers)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def intake_case(hub: InProcessHub, case_no: str) -> dict[str, Any]:
    """Intake's own view (the gateway's GET overlays referral's status)."""
    async with http_client() as client:
        response = await client.get(
            f"{hub.apps['intake'].url}/internal/v1/cases/{case_no}", headers=as_actor("intake")
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


async def audit_entries(hub: InProcessHub, case_no: str | None = None) -> list[Any]:
    async with hub.runtime("intake").db.sessions() as session:
        rows = await audit.read_chain(session, audit_log)
    return [r for r in rows if case_no is None or r.case_no == case_no]


async def timeline_events(hub: InProcessHub, case_no: str) -> list[dict[str, Any]]:
    response = await api(hub, "GET", f"/cases/{case_no}/timeline")
    return response.json() if response.status_code == 200 else []


async def wait_for_event(hub: InProcessHub, case_no: str, event: str) -> dict[str, Any]:
    entries = await eventually(
        lambda: timeline_events(hub, case_no),
        until=lambda rows: any(r["event"] == event for r in rows),
        what=f"{event} on the timeline of {case_no}",
    )
    return next(r for r in entries if r["event"] == event)


def assert_chain_ok(rows: list[Any], hub: InProcessHub) -> None:
    result = audit.verify(rows, hub.settings.hash_key)
    assert result.ok, result


# --- registration: idempotent under concurrency ---------------------------------------------------


async def test_same_12345_work_order_posted_concurrently_is_one_case(hub: InProcessHub) -> None:
    refs = [f"GD20261122{i:05d}" for i in range(5)]
    async with http_client() as client:
        for ref in refs:
            body = hotline_order(ref)
            first, second = await asyncio.gather(
                client.post(f"{hub.gateway}/api/v1/cases", json=body),
                client.post(f"{hub.gateway}/api/v1/cases", json=body),
            )
            assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
            assert first.json()["case_no"] == second.json()["case_no"]
    async with hub.runtime("intake").db.sessions() as session:
        per_ref: dict[str, int] = dict(
            (
                await session.execute(
                    select(cases.c.source_ref, func.count())
                    .where(cases.c.channel == "hotline12345")
                    .group_by(cases.c.source_ref)
                )
            ).all()
        )
    assert per_ref == dict.fromkeys(refs, 1)
    entries = await audit_entries(hub)
    registered = [e for e in entries if e.action == "case.registered"]
    assert sorted(e.detail["source_ref"] for e in registered) == refs  # audited once per case
    assert_chain_ok(entries, hub)


async def test_intake_builds_its_classifier_at_start_not_in_the_first_registration(hub: InProcessHub) -> None:
    # Built in the first registration it took 0.25-1.3 s of that request (a CI run timed one out).
    classifier = hub.apps["intake"].app.state.assessor.classifier

    async def loaded() -> bool:
        return bool(classifier.loaded)

    await eventually(loaded, what="intake's classifier built without any registration")


async def test_idempotency_key_makes_a_window_case_once(hub: InProcessHub) -> None:
    key = {"Idempotency-Key": "window-2026-11-22-0001"}
    async with http_client() as client:
        first, second = await asyncio.gather(
            client.post(f"{hub.gateway}/api/v1/cases", json=WINDOW_CASE, headers=key),
            client.post(f"{hub.gateway}/api/v1/cases", json=WINDOW_CASE, headers=key),
        )
        third = await client.post(f"{hub.gateway}/api/v1/cases", json=WINDOW_CASE, headers=key)
    assert sorted([first.status_code, second.status_code]) == [200, 201]
    assert third.status_code == 200
    assert first.json()["case_no"] == second.json()["case_no"] == third.json()["case_no"]
    other = await api(hub, "POST", "/cases", json=WINDOW_CASE, headers={"Idempotency-Key": "another"})
    assert other.status_code == 201 and other.json()["case_no"] != first.json()["case_no"]
    assert len([e for e in await audit_entries(hub) if e.action == "case.registered"]) == 2


async def test_registration_is_audited_with_the_actor_and_without_personal_data(hub: InProcessHub) -> None:
    # Straight to intake, with the credential the gateway would mint for the caller.
    async with http_client() as client:
        url = f"{hub.apps['intake'].url}/internal/v1/cases"
        adapter = as_actor("intake", "adapter", id="hotline-adapter")
        created = await client.post(url, json=WINDOW_CASE, headers=adapter)
        refused = await client.post(url, json=WINDOW_CASE, headers=as_actor("intake", "ops", id="sup-001"))
    assert created.status_code == 201, created.text
    (entry,) = await audit_entries(hub, created.json()["case_no"])
    assert (entry.action, entry.actor_role, entry.actor_id) == (
        "case.registered",
        "adapter",
        "hotline-adapter",
    )
    assert entry.detail["channel"] == "window" and entry.detail["colour"] == "blue"
    flat = str(entry.detail)
    assert PHONE not in flat and ID_NUMBER not in flat and "王女士" not in flat
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    via_gateway = await register(hub)  # no actor headers: the default role, centre
    assert (await audit_entries(hub, via_gateway["case_no"]))[0].actor_role == "centre"


# --- supervisor override -------------------------------------------------------------------------


async def test_override_changes_colour_with_reason_is_audited_and_reaches_the_timeline(
    hub: InProcessHub,
) -> None:
    case_no = (await register(hub))["case_no"]
    response = await api(
        hub,
        "POST",
        f"/cases/{case_no}/assessment",
        json={"colour": "orange", "reason": f"报告人情绪激动，有越级上访苗头（已回电{PHONE}）"},
        headers=actor("centre", "sup-001"),
    )
    assert response.status_code == 200, response.text
    case = response.json()
    assert (case["colour"], case["colour_overridden"], case["response_level"]) == (
        "orange",
        True,
        "time_limited",
    )
    assert case["colour_reasons"][0]["rule_id"] == "override.supervisor"
    assert case["colour_reasons"][1]["rule_id"] == "blue.default"  # the rules' view stays explained
    assert case["override"]["actor_id"] == "sup-001" and case["override"]["actor_role"] == "centre"
    assert PHONE not in case["override"]["reason"] and "138****1234" in case["override"]["reason"]

    event = await wait_for_event(hub, case_no, "case.assessment_changed.v1")
    assert event["detail"]["colour"] == "orange" and event["detail"]["category"] == case["category"]
    assert event["actor"] == {"service": "intake", "role": "centre"}
    assert event["trace_id"] and event["span_id"]

    entries = await audit_entries(hub, case_no)
    assert [e.action for e in entries] == ["case.registered", "case.assessment_overridden"]
    overridden = entries[-1]
    assert overridden.actor_id == "sup-001"
    assert overridden.detail["from_colour"] == "blue" and overridden.detail["to_colour"] == "orange"
    assert PHONE not in str(overridden.detail)

    explicit = await api(
        hub,
        "POST",
        f"/cases/{case_no}/assessment",
        json={"colour": "red", "reason": "现场确认有聚集风险", "response_level": "joint_consultation"},
        headers=actor(),
    )
    assert explicit.json()["response_level"] == "joint_consultation"
    assert_chain_ok(await audit_entries(hub), hub)


async def test_override_is_refused_for_other_roles_and_bad_input(hub: InProcessHub) -> None:
    case_no = (await register(hub))["case_no"]
    body = {"colour": "red", "reason": "需要升级处理"}
    for role in ("ops", "department"):
        refused = await api(hub, "POST", f"/cases/{case_no}/assessment", json=body, headers=actor(role))
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/forbidden")
    bad = await api(hub, "POST", f"/cases/{case_no}/assessment", json={"colour": "purple", "reason": "x"})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"colour", "reason"}
    missing = await api(hub, "POST", "/cases/ZZ-20000101-000001/assessment", json=body)
    assert missing.status_code == 404
    assert (await intake_case(hub, case_no))["colour"] == "blue"
    assert [e.action for e in await audit_entries(hub, case_no)] == ["case.registered"]


# --- category correction -------------------------------------------------------------------------


async def test_category_correction_regrades_under_the_new_category(hub: InProcessHub) -> None:
    reporter = {"name": "李先生", "phone": "13904725678"}
    address = {"address": "昆都仑区钢铁大街幸福小区8栋1单元101室"}
    wage = {
        "channel": "window",
        "request_type": "complaint",
        "category": "labour",
        "title": "公司拖欠工资",
        "description": "某物流公司拖欠三个月工资未发",
        "reporter": reporter,
        "location": address,
    }
    await register(hub, wage)
    await register(hub, {**wage, "description": "再次反映物流公司欠薪问题，仍未解决"})
    # Registered under the wrong category: no earlier report of *that* matter, so blue.
    noise = await register(
        hub,
        {
            **wage,
            "channel": "hotline12345",
            "source_ref": "GD2026112299001",
            "category": "noise",
            "title": "反映欠薪",
            "description": "市民来电反映物流公司欠薪",
        },
    )
    assert (noise["colour"], noise["category"]) == ("blue", "noise")
    case_no = noise["case_no"]
    corrected = await api(
        hub,
        "POST",
        f"/cases/{case_no}/category",
        json={"category": "labour", "reason": "受理时类别选错"},
        headers=actor("centre", "disp-007"),
    )
    assert corrected.status_code == 200, corrected.text
    case = corrected.json()
    assert (case["category"], case["category_source"], case["colour"]) == ("labour", "dispatcher", "orange")
    assert case["colour_reasons"][0]["rule_id"] == "orange.repeat_ge_3_in_30d"
    event = await wait_for_event(hub, case_no, "case.assessment_changed.v1")
    assert event["detail"]["category"] == "labour" and event["detail"]["colour"] == "orange"
    entry = (await audit_entries(hub, case_no))[-1]
    assert entry.action == "case.category_corrected" and entry.actor_id == "disp-007"
    assert entry.detail["from_category"] == "noise" and entry.detail["to_category"] == "labour"
    assert entry.detail["repeat_count_30d"] == 2

    # The same correction again changes nothing and says nothing.
    again = await api(
        hub, "POST", f"/cases/{case_no}/category", json={"category": "labour", "reason": "重复提交"}
    )
    assert again.status_code == 200 and len(await audit_entries(hub, case_no)) == 2


async def test_category_correction_keeps_a_supervisors_override(hub: InProcessHub) -> None:
    case_no = (await register(hub))["case_no"]
    await api(hub, "POST", f"/cases/{case_no}/assessment", json={"colour": "red", "reason": "有极端言行"})
    corrected = await api(
        hub, "POST", f"/cases/{case_no}/category", json={"category": "neighbour", "reason": "实为邻里纠纷"}
    )
    case = corrected.json()
    assert (case["colour"], case["colour_overridden"], case["category"]) == ("red", True, "neighbour")
    assert case["colour_reasons"][0]["rule_id"] == "override.supervisor"
    assert case["colour_reasons"][1]["rule_id"] == "blue.default"
    entry = (await audit_entries(hub, case_no))[-1]
    assert entry.detail["to_colour"] == "red" and entry.detail["rules_colour"] == "blue"


# --- suspected duplicates: merge and unlink --------------------------------------------------------


async def test_merge_moves_the_channel_duty_and_unlink_clears_a_link(hub: InProcessHub) -> None:
    original = (await register(hub))["case_no"]
    limit = {"at": "2026-11-24T10:00:00+00:00", "source": "hotline12345.limitTime"}  # its 办理时限
    again = await register(hub, hotline_order("GD2026112200777", due_by=limit))
    assert again["duplicate_of"] == original  # same reporter, same category, similar text, same week
    duplicate = again["case_no"]

    merged = await api(
        hub,
        "POST",
        f"/cases/{duplicate}/merge",
        json={"into": original, "reason": "同一事项12345重复来电"},
        headers=actor("centre", "disp-001"),
    )
    assert merged.status_code == 200, merged.text
    assert (merged.json()["status"], merged.json()["merged_into"]) == ("merged", original)
    survivor = await intake_case(hub, original)
    # The 12345 duty moves with its limit: referral holds the survivor's lead to it.
    assert survivor["duties"] == [
        {
            "case_no": duplicate,
            "channel": "hotline12345",
            "source_ref": "GD2026112200777",
            "due_by": "2026-11-24T10:00:00Z",
            "due_by_source": "hotline12345.limitTime",
        }
    ]
    await wait_for_event(hub, duplicate, CaseMergedV1.TYPE)
    assert [e.action for e in await audit_entries(hub, duplicate)][-1] == "case.merged"
    assert [e.action for e in await audit_entries(hub, original)][-1] == "case.duties_received"

    # A third report of the same matter links to the surviving case; merging it carries duties over.
    third = await register(
        hub, hotline_order("GD2026112200778", description="市民再次来电：楼上私改烟道，油烟倒灌")
    )
    assert third["duplicate_of"] == original

    # Refusals: 409 names the state and what is allowed; nothing is written.
    before = len(await audit_entries(hub))
    again_merge = await api(hub, "POST", f"/cases/{duplicate}/merge", json={"into": original})
    assert again_merge.status_code == 409
    problem = again_merge.json()
    assert problem["case_status"] == "merged" and problem["allowed_actions"] == ["personal-data"]
    into_itself = await api(hub, "POST", f"/cases/{original}/merge", json={"into": original})
    assert into_itself.status_code == 409
    into_merged = await api(hub, "POST", f"/cases/{third['case_no']}/merge", json={"into": duplicate})
    assert into_merged.status_code == 409 and original in into_merged.json()["detail"]
    nowhere = await api(hub, "POST", f"/cases/{third['case_no']}/merge", json={"into": "ZZ-20000101-000001"})
    assert nowhere.status_code == 422
    unknown = await api(hub, "POST", "/cases/ZZ-20000101-000001/merge", json={"into": original})
    assert unknown.status_code == 404
    by_ops = await api(
        hub, "POST", f"/cases/{third['case_no']}/merge", json={"into": original}, headers=actor("ops")
    )
    assert by_ops.status_code == 403
    unlink_merged = await api(hub, "POST", f"/cases/{duplicate}/unlink")
    assert unlink_merged.status_code == 409
    assert len(await audit_entries(hub)) == before

    # Unlink: a dispatcher decides the third report is a matter of its own.
    unlinked = await api(
        hub,
        "POST",
        f"/cases/{third['case_no']}/unlink",
        json={"reason": "另一户反映的不同烟道"},
        headers=actor(),
    )
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["duplicate_of"] is None
    event = await wait_for_event(hub, third["case_no"], "case.duplicate_unlinked.v1")
    assert event["actor"]["role"] == "centre"
    entry = (await audit_entries(hub, third["case_no"]))[-1]
    assert entry.action == "case.duplicate_unlinked" and entry.detail["was_duplicate_of"] == original
    twice = await api(hub, "POST", f"/cases/{third['case_no']}/unlink")
    assert twice.status_code == 409

    # Merging the third case after all: the survivor now holds both 12345 duties.
    await api(hub, "POST", f"/cases/{third['case_no']}/merge", json={"into": original})
    duties = (await intake_case(hub, original))["duties"]
    assert [d["case_no"] for d in duties] == [duplicate, third["case_no"]]
    assert_chain_ok(await audit_entries(hub), hub)


async def test_a_closed_case_is_neither_merged_nor_merged_into(hub: InProcessHub) -> None:
    closed = (await register(hub))["case_no"]
    other = (await register(hub, hotline_order("GD2026112200888")))["case_no"]
    # Referral closes the case (simulated through referral's own outbox and the broker).
    referral = hub.runtime("referral")
    async with referral.db.transaction() as session:
        await referral.outbox.emit(session, "case.closed.v1", closed, {"case_no": closed, "status": "closed"})
    await eventually(
        lambda: intake_case(hub, closed), until=lambda c: c["status"] == "closed", what="closure projected"
    )
    refused = await api(hub, "POST", f"/cases/{closed}/merge", json={"into": other})
    assert refused.status_code == 409 and refused.json()["case_status"] == "closed"
    into_closed = await api(hub, "POST", f"/cases/{other}/merge", json={"into": closed})
    assert into_closed.status_code == 409
    override = await api(hub, "POST", f"/cases/{closed}/assessment", json={"colour": "red", "reason": "补录"})
    assert override.status_code == 409
    entry = (await audit_entries(hub, closed))[-1]
    assert (entry.action, entry.actor_role, entry.detail["to"]) == ("case.status_changed", "system", "closed")


# --- personal data ----------------------------------------------------------------------------------

REVEAL = {"purpose": "电话联系当事人"}


async def test_personal_data_is_masked_revealed_to_the_centre_and_audited(hub: InProcessHub) -> None:
    case_no = (await register(hub))["case_no"]
    case = await intake_case(hub, case_no)  # the case as every other reader sees it: masked
    assert case["reporter"]["phone"] == "138****1234"
    assert PHONE not in str(case) and ID_NUMBER not in str(case) and "王女士" not in str(case)

    revealed = await api(
        hub,
        "POST",
        f"/cases/{case_no}/personal-data",
        json=REVEAL,
        headers=actor("centre", "disp-009"),
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.json() == {
        "case_no": case_no,
        "anonymous": False,
        "name": "王女士",
        "phone": "+86" + PHONE,  # stored normalised (E.164)
        "id_type": "resident_id",
        "id_number": ID_NUMBER,
    }
    assert revealed.headers["cache-control"] == "no-store"
    entry = (await audit_entries(hub, case_no))[-1]
    assert (entry.action, entry.actor_role, entry.actor_id) == ("personal_data.read", "centre", "disp-009")
    assert entry.detail == {"fields": ["name", "phone", "id_number"], "purpose": "电话联系当事人"}

    for role in ("ops", "department"):
        refused = await api(
            hub,
            "POST",
            f"/cases/{case_no}/personal-data",
            json=REVEAL,
            headers=actor(role, f"{role}-1"),
        )
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert PHONE not in refused.text and "王女士" not in refused.text
        denied = (await audit_entries(hub, case_no))[-1]
        assert (denied.action, denied.actor_role) == ("personal_data.read_denied", role)
    missing = await api(hub, "POST", "/cases/ZZ-20000101-000001/personal-data", json=REVEAL)
    assert missing.status_code == 404
    assert_chain_ok(await audit_entries(hub), hub)


async def test_no_personal_data_in_spans_of_these_flows(
    hub: InProcessHub, spans: InMemorySpanExporter
) -> None:
    case_no = (await register(hub))["case_no"]
    await api(hub, "POST", f"/cases/{case_no}/personal-data", json=REVEAL)
    await api(
        hub, "POST", f"/cases/{case_no}/assessment", json={"colour": "yellow", "reason": f"回电{PHONE}"}
    )
    await wait_for_event(hub, case_no, "case.assessment_changed.v1")
    # Whatever a caller puts in a query string stays out of the spans (the gateway's server span,
    # its forward to intake and intake's own): it may be anything they typed.
    asked = await api(hub, "GET", f"/cases/{case_no}?phone={PHONE}&id={ID_NUMBER}")
    assert asked.status_code == 200, asked.text
    text = " ".join(str(s.attributes) + s.name for s in spans.get_finished_spans())
    assert PHONE not in text and ID_NUMBER not in text and "王女士" not in text
    assert f"/cases/{case_no}" in text  # the request's spans are there, without their query


# --- rules reload ----------------------------------------------------------------------------------


@pytest.fixture
async def rules_hub(
    spans: InMemorySpanExporter, backend: str, tmp_path: Path
) -> AsyncIterator[tuple[InProcessHub, Path]]:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("grading.yaml", "classifier.yaml"):
        (rules / name).write_text(read_rule_text(name), encoding="utf-8")
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, intake_rules_dir=rules)) as running,
    ):
        yield running, rules


async def test_rules_reload_swaps_rules_and_a_broken_file_keeps_the_old_ones(
    rules_hub: tuple[InProcessHub, Path],
) -> None:
    hub, rules = rules_hub
    six_people = {**WINDOW_CASE, "people_involved": 6}
    assert (await register(hub, six_people))["colour"] == "yellow"

    grading = rules / "grading.yaml"
    text = grading.read_text(encoding="utf-8")
    grading.write_text(text.replace("value: 30}", "value: 5}", 1), encoding="utf-8")
    reloaded = await _reload(hub, "centre", "ops-lead")
    assert reloaded.status_code == 200, reloaded.text
    files = {f["name"]: f for f in reloaded.json()["files"]}
    assert files["grading.yaml"]["origin"] == str(grading)
    assert (await register(hub, six_people))["colour"] == "red"

    # A rule with an unknown colour: 422 naming the file, the line and the rule; old rules stay.
    lines = grading.read_text(encoding="utf-8").splitlines()
    colour_line = next(i for i, line in enumerate(lines) if "colour: orange" in line)
    lines[colour_line] = lines[colour_line].replace("orange", "purple")
    grading.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = await _reload(hub)
    assert broken.status_code == 422
    problem = broken.json()
    assert problem["type"].endswith("/rules-invalid") and problem["file"] == str(grading)
    assert problem["line"] == colour_line + 1 and problem["where"].endswith(".colour")
    assert "purple" in problem["detail"]
    assert (await register(hub, six_people))["colour"] == "red"

    # Not even YAML: the parser's line and column.
    grading.write_text("version: 1\nrules: [\n  {id: x\n", encoding="utf-8")
    syntax = (await _reload(hub)).json()
    assert syntax["status"] == 422 and syntax["line"] is not None and syntax["column"] is not None

    refused = await _reload(hub, "ops")
    assert refused.status_code == 403
    reloads = [e for e in await audit_entries(hub) if e.action == "rules.reloaded"]
    assert len(reloads) == 1 and reloads[0].actor_id == "ops-lead"


async def _reload(hub: InProcessHub, role: str = "centre", actor_id: str = "sup-001") -> httpx.Response:
    async with http_client() as client:
        return await client.post(
            f"{hub.apps['intake'].url}/internal/v1/rules/reload",
            headers=as_actor("intake", role, id=actor_id),
            timeout=30,
        )
