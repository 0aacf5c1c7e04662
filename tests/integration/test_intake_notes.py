"""Notes on a case (POST /api/v1/cases/{case_no}/notes): text added after registration is kept,
audited, and read with the title and description; new words raise the colour (never lower it) and
a supervisor's override stands. Also: the text-signal rule file is reloaded like the others.
Through the gateway, on real RabbitMQ and both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, select

from services.intake.domain.resources import read_rule_text
from services.intake.tables import case_notes
from tests.integration.test_intake_service import (
    PHONE,
    WINDOW_CASE,
    actor,
    api,
    audit_entries,
    intake_case,
    register,
    timeline_events,
    wait_for_event,
)
from tests.kit.credentials import as_actor
from tests.kit.http import http_client
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.waiting import eventually

THREAT = f"来访人再次来电称，对方扬言要拿刀砍人，联系电话{PHONE}"


async def note(
    hub: InProcessHub, case_no: str, text: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await api(
        hub,
        "POST",
        f"/cases/{case_no}/notes",
        json={"text": text},
        headers=headers or actor("centre", "disp-3"),
    )


async def notes_stored(hub: InProcessHub, case_no: str | None = None) -> int:
    async with hub.runtime("intake").db.sessions() as session:
        query = select(func.count()).select_from(case_notes)
        if case_no:
            query = query.where(case_notes.c.case_no == case_no)
        return int((await session.execute(query)).scalar_one())


async def test_a_note_with_a_threat_raises_the_colour_once_audited_and_said(hub: InProcessHub) -> None:
    case_no = (await register(hub))["case_no"]
    assert (await intake_case(hub, case_no))["colour"] == "blue"

    key = {"Idempotency-Key": "note-2026-12-04-001", **actor("centre", "disp-3")}
    added = await note(hub, case_no, THREAT, key)
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["note_no"], body["created"], body["previous_colour"], body["colour"]) == (
        1,
        True,
        "blue",
        "red",
    )
    assert body["colour_raised"] is True and body["response_level"] == "joint_consultation"
    top = body["colour_reasons"][0]
    assert top["rule_id"] == "red.violence_threat"
    assert all(s["source"] == "note" and s["note_no"] == 1 for e in top["evidence"] for s in e["spans"])
    assert "砍人" in [e["quote"] for e in top["evidence"]]

    # The same request again (a retry): answered, nothing added, nothing said twice.
    again = await note(hub, case_no, THREAT, key)
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["note_no"] == 1
    assert await notes_stored(hub, case_no) == 1

    case = await intake_case(hub, case_no)
    assert case["colour"] == "red" and case["colour_reasons"] == body["colour_reasons"]
    [stored] = case["notes"]
    assert PHONE not in stored["text"] and "扬言要拿刀砍人" in stored["text"]  # redacted like any staff text
    assert (stored["actor_role"], stored["actor_id"]) == ("centre", "disp-3")

    [entry] = [e for e in await audit_entries(hub, case_no) if e.action == "case.note_added"]
    assert (entry.detail["from_colour"], entry.detail["to_colour"], entry.detail["rules_colour"]) == (
        "blue",
        "red",
        "red",
    )
    assert PHONE not in str(entry.detail) and entry.actor_id == "disp-3"
    changed = await wait_for_event(hub, case_no, "case.assessment_changed.v1")
    assert changed["detail"]["colour"] == "red" and "风险升高" in changed["detail"]["reason"]

    # Referral follows: the case is red in its list.
    await eventually(
        lambda: api(hub, "GET", "/cases?colour=red", headers=actor("centre")),
        until=lambda r: case_no in [c["case_no"] for c in r.json()["items"]],
        what="referral's view of the case red",
    )

    # Calmer words later never lower the colour, and say nothing.
    calm = await note(hub, case_no, "经社区调解，双方已和解，并未动手")
    assert (
        calm.status_code == 201 and calm.json()["colour"] == "red" and calm.json()["colour_raised"] is False
    )
    events = [e for e in await timeline_events(hub, case_no) if e["event"] == "case.assessment_changed.v1"]
    assert len(events) == 1


async def test_an_override_stands_and_the_reasons_behind_it_are_updated(hub: InProcessHub) -> None:
    case_no = (await register(hub))["case_no"]
    override = await api(
        hub,
        "POST",
        f"/cases/{case_no}/assessment",
        json={"colour": "yellow", "reason": "当事人情绪不稳，先行关注"},
        headers=actor("centre", "sup-001"),
    )
    assert override.status_code == 200, override.text
    await wait_for_event(hub, case_no, "case.assessment_changed.v1")

    added = await note(hub, case_no, "当事人扬言要从楼顶跳下去")
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["colour"], body["colour_overridden"], body["colour_raised"]) == ("yellow", True, False)
    assert [r["rule_id"] for r in body["colour_reasons"]][:2] == [
        "override.supervisor",
        "red.self_harm_threat",
    ]
    [entry] = [e for e in await audit_entries(hub, case_no) if e.action == "case.note_added"]
    assert (entry.detail["to_colour"], entry.detail["rules_colour"]) == ("yellow", "red")
    assert entry.detail["reasons_updated"] is True
    # Only the override's event: the supervisor has the last word, the note changed no colour.
    events = [e for e in await timeline_events(hub, case_no) if e["event"] == "case.assessment_changed.v1"]
    assert len(events) == 1


async def test_refused_notes_change_nothing_and_a_merged_case_passes_its_note_on(hub: InProcessHub) -> None:
    case_no = (await register(hub))["case_no"]
    before = len(await audit_entries(hub))
    for role in ("ops", "department"):
        refused = await note(hub, case_no, THREAT, actor(role))
        assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")
    assert (await note(hub, "ZZ-20000101-000001", THREAT)).status_code == 404
    for text in ("", "  ", "长" * 2001, None, 5):
        bad = await note(hub, case_no, text)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "text", (text, bad.text)
    extra = await api(hub, "POST", f"/cases/{case_no}/notes", json={"text": "补充", "colour": "red"})
    assert extra.status_code == 422
    assert len(await audit_entries(hub)) == before and await notes_stored(hub) == 0
    assert (await intake_case(hub, case_no))["colour"] == "blue"

    # A note on a merged case belongs to the matter, which lives on in the case it was merged into.
    other = (await register(hub, {**WINDOW_CASE, "reporter": {"name": "赵先生", "phone": "13904729876"}}))[
        "case_no"
    ]
    merged = await api(hub, "POST", f"/cases/{other}/merge", json={"into": case_no}, headers=actor("centre"))
    assert merged.status_code == 200, merged.text
    passed_on = await note(hub, other, "当事人扬言要从楼顶跳下去")
    assert passed_on.status_code == 201 and passed_on.json()["case_no"] == case_no
    assert passed_on.json()["colour"] == "red"
    assert await notes_stored(hub, case_no) == 1 and await notes_stored(hub, other) == 0


# --- the text-signal rules are data, reloaded like the others --------------------------------------


@pytest.fixture
async def signals_hub(
    spans: InMemorySpanExporter, backend: str, tmp_path: Path
) -> AsyncIterator[tuple[InProcessHub, Path]]:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "signals.yaml").write_text(read_rule_text("signals.yaml"), encoding="utf-8")
    # What the rules read, alone: the text model's second opinion calls "扬言要去他家门口泼油漆" red on
    # its own (rightly: a threat), which would hide whether the rules read it.
    grading = read_rule_text("grading.yaml")
    assert "text_model_enabled: true" in grading
    (rules / "grading.yaml").write_text(
        grading.replace("text_model_enabled: true", "text_model_enabled: false"), encoding="utf-8"
    )
    async with (
        isolated_backends(backend) as (amqp_url, db_url),
        running_hub(make_settings(tmp_path, amqp_url, db_url, intake_rules_dir=rules)) as running,
    ):
        yield running, rules


async def test_a_centre_extends_the_signals_and_a_broken_file_is_refused_with_its_line(
    signals_hub: tuple[InProcessHub, Path],
) -> None:
    hub, rules = signals_hub
    paint = {**WINDOW_CASE, "description": "对方扬言要去他家门口泼油漆"}
    assert (await register(hub, paint))["colour"] == "blue"

    signals = rules / "signals.yaml"
    text = signals.read_text(encoding="utf-8")
    signals.write_text(text.replace("    terms: [砍人, 杀人,", "    terms: [泼油漆, 砍人, 杀人,", 1), "utf-8")
    reloaded = await reload(hub)
    assert reloaded.status_code == 200, reloaded.text
    assert {f["name"]: f["origin"] for f in reloaded.json()["files"]}["signals.yaml"] == str(signals)
    case = await register(hub, {**paint, "title": "泼油漆威胁"})
    assert case["colour"] == "red"
    assert "泼油漆" in [e["quote"] for e in case["colour_reasons"][0]["evidence"]]

    lines = signals.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if "scope: clause" in line)
    lines[at] = lines[at].replace("clause", "paragraph")
    signals.write_text("\n".join(lines) + "\n", encoding="utf-8")
    broken = await reload(hub)
    assert broken.status_code == 422
    problem = broken.json()
    assert problem["file"] == str(signals) and problem["line"] == at + 1
    assert problem["where"].endswith(".scope") and "paragraph" in problem["detail"]
    assert (await register(hub, {**paint, "title": "再次泼油漆威胁"}))["colour"] == "red"  # old rules stay


async def reload(hub: InProcessHub) -> httpx.Response:
    async with http_client() as client:
        return await client.post(
            f"{hub.apps['intake'].url}/internal/v1/rules/reload",
            headers=as_actor("intake", "centre", id="sup-001"),
            timeout=30,
        )
