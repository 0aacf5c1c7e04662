"""12345 reconciliation and back-fill (`hub sync reconcile|backfill hotline12345`): drift repaired and
reported; historical work orders imported once, resumably, without pushing history back over 12345."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from benchmarks.backfill import count_cases, run_backfill, write_history
from gateway.adapters.hotline12345.simulator import from_settings as hotline_simulator
from gateway.adapters.hotline12345.sync import backfill, reconcile
from gateway.tables import adapter_deliveries
from hub.config import Environment, Settings
from hub.db import Database, create_engine_for
from tests.integration.test_adapter_kit import AdapterHub, adapter_hub
from tests.kit.infra import fresh_vhost
from tests.kit.inprocess import _serve
from tests.kit.processes import process_hub
from tests.kit.waiting import eventually

pytestmark = pytest.mark.integration

SYSTEM = "hotline12345"
ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))


def _env(ah: AdapterHub) -> dict[str, str]:
    """What `hub sync …` needs to find this in-process hub."""
    s = ah.settings
    env = {
        "HUB_ENV": "test",
        "HUB_DATA_DIR": str(s.data_dir),
        "HUB_INTAKE_URL": s.url_of("intake"),
        "HUB_HOTLINE12345_URL": ah.sim_url(SYSTEM),
    }
    if s.database_url:
        env["HUB_DATABASE_URL"] = s.database_url
    return env


async def _cli(ah: AdapterHub, *args: str) -> str:
    from hub.cli import app

    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, app, list(args), env=_env(ah))
    assert result.exit_code == 0, result.output
    return result.output


async def test_reconcile_imports_missed_orders_retries_failures_resends_lost_updates(
    backend: str, tmp_path: Path
) -> None:
    async with adapter_hub(backend, tmp_path, adapter_max_attempts=2) as ah:
        gateway_db = ah.hub.runtime("gateway").db
        # In sync, then made to drift: the platform "loses" our 交办 on one, moves ahead on another.
        pushed = [await ah.sim(SYSTEM, "POST", "/_sim/push/work-order") for _ in range(3)]
        in_sync, lost, ahead = (p["orderNo"] for p in pushed)
        for order_no in (in_sync, lost, ahead):
            await ah.wait_received(SYSTEM, order_no, 2)
        await ah.sim(SYSTEM, "POST", "/_sim/set-status", params={"order_no": lost, "status": 1})
        await ah.sim(SYSTEM, "POST", "/_sim/set-status", params={"order_no": ahead, "status": 4})
        # One whose updates failed for good while the platform was broken.
        await ah.sim(SYSTEM, "POST", "/_sim/fail", params={"count": 1000})
        broken = (await ah.sim(SYSTEM, "POST", "/_sim/push/work-order"))["orderNo"]
        await eventually(lambda: ah.deliveries(status="failed"), what="a failed delivery")
        await ah.sim(SYSTEM, "POST", "/_sim/fail", params={"count": 0})
        # Two the hub never received: one still waiting to be signed for, one archived long ago.
        seeded = await ah.sim(SYSTEM, "POST", "/_sim/seed", params={"count": 1, "status": 0})
        waiting = seeded["orderNos"][0]
        archived = (await ah.sim(SYSTEM, "POST", "/_sim/seed", params={"count": 1, "status": 4}))["orderNos"][
            0
        ]

        dry = await reconcile(ah.settings, db=gateway_db, repair=False)
        assert await ah.count_cases(SYSTEM, waiting) == 0  # a dry run changes nothing

        report = await reconcile(ah.settings, db=gateway_db)
        actions = {c.ref: c.action for c in report.changes}
        assert actions == {
            waiting: "imported",
            archived: "imported",
            lost: "resent",
            broken: "retried",
            ahead: "reported",
        }, report.changes
        assert {c.ref: c.action for c in dry.changes} == {
            **actions,
            waiting: "reported",
            archived: "reported",
        }
        assert report.theirs == 6 and report.in_sync >= 1

        # The repairs flow: 交办 again for the lost one, the failed ones in order, 签收 for the
        # waiting one; nothing at all for the archived one; never a step backwards.
        again = await ah.wait_received(SYSTEM, lost, 3)
        assert [i["action"] for i in again] == ["签收", "交办", "交办"]
        assert [i["action"] for i in await ah.wait_received(SYSTEM, broken, 2)] == ["签收", "交办"]
        assert [i["action"] for i in await ah.wait_received(SYSTEM, waiting, 2)] == ["签收", "交办"]
        archived_case = next(c.case_no for c in report.changes if c.ref == archived)
        rows = await ah.wait_quiet(archived_case)
        assert {r["status"] for r in rows} == {"skipped"}
        assert await ah.received(SYSTEM, archived) == []
        assert await ah.regressions(SYSTEM) == []

        # Through the command line: only the platform-ahead one is left to report.
        output = await _cli(ah, "sync", "reconcile", SYSTEM)
        assert ahead in output and "reported only 1" in output and "imported 0" in output


async def test_backfill_of_ten_thousand_is_resumable_idempotent_and_pushes_no_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10^4 through the adapter path into intake and the gateway running as processes."""
    async with contextlib.AsyncExitStack() as stack:
        sim = await _serve(hotline_simulator(Settings()))
        stack.callback(setattr, sim.server, "should_exit", True)
        monkeypatch.setenv("HUB_HOTLINE12345_URL", sim.url)  # the gateway process pushes updates here
        amqp_url = await stack.enter_async_context(fresh_vhost())
        settings = Settings(env=Environment.test, data_dir=tmp_path, amqp_url=amqp_url)
        # The adapter path alone (mapping → intake → link → ledger), as processes: the figure is its own,
        # not the downstream's (benchmarks/backfill.py measures both; see benchmarks/RESULTS.md).
        hub = await stack.enter_async_context(
            process_hub(settings, tmp_path / "logs", start=("intake", "gateway"))
        )
        target = settings.model_copy(update={"intake_url": hub.url("intake"), "hotline12345_url": sim.url})
        path = tmp_path / "history.jsonl"
        await asyncio.to_thread(write_history, path, 10_000)
        with path.open("a", encoding="utf-8") as handle:  # three lines the platform got wrong
            handle.write('{"orderNo": "BAD1", "orderType": 42}\nnot json\n{"orderNo": "BAD2"}\n')

        # Interrupted after 3,000 (the cursor moves per chunk of 500) and resumed where it stopped.
        outcome = await run_backfill(
            target, path, 10_003, concurrency=32, interrupt_at=3000, show_progress=False
        )
        assert outcome.first.position == 3000 and outcome.second.resumed_from == 3000
        assert outcome.second.position == 10_003
        assert outcome.imported == 10_000 and outcome.first.invalid + outcome.second.invalid == 3
        assert outcome.cases == outcome.distinct_refs == 10_000  # each work order exactly once

        # From the top again: every work order is already there (channel + source_ref).
        again = await backfill(target, path=path, restart=True, limit=1000)
        assert (again.imported, again.existing) == (0, 1000)
        assert (await count_cases(target)) == (10_000, 10_000)

        figure = (
            f"back-fill 10^4 (SQLite, intake + gateway as processes, 32 in flight): "
            f"{outcome.imported} imported in {outcome.seconds:.0f} s = {outcome.rate:.0f} work orders/s "
            f"(interrupted at 3000, resumed); already-there re-run {again.rate:.0f}/s\n"
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "backfill-10k.txt").write_text(figure, encoding="utf-8")
        print(figure)

        # History is never pushed back over 12345: the ledger skipped every registration.
        db = Database(create_engine_for(target, "gateway"))
        stack.push_async_callback(db.dispose)
        async with db.sessions() as session:
            statuses = dict(
                (
                    await session.execute(
                        select(adapter_deliveries.c.status, func.count()).group_by(
                            adapter_deliveries.c.status
                        )
                    )
                ).all()
            )
        assert set(statuses) <= {"skipped", "pending", "sending"} and statuses.get("skipped", 0) > 0, statuses
        # (statuses 2–4 only in this history: every registration ranks at or below what 12345 shows)
        assert sim.app.state.sim.received == []


async def test_backfill_from_the_platform_list_api_through_the_command_line(tmp_path: Path) -> None:
    async with adapter_hub("sqlite", tmp_path) as ah:
        await ah.sim(SYSTEM, "POST", "/_sim/seed", params={"count": 600, "status": 4})
        output = await _cli(ah, "sync", "backfill", SYSTEM, "--from-simulator", "--concurrency", "16")
        assert "imported 600" in output and "now at 600/600" in output
        assert await ah.count_cases(SYSTEM) == 600
        # The cursor is at the end: a second run has nothing to do.
        output = await _cli(ah, "sync", "backfill", SYSTEM, "--from-simulator")
        assert "resumed at 600" in output and "imported 0" in output

        # Nothing is pushed back over archived orders: every update of theirs is skipped.
        async def totals() -> dict[str, int]:
            out = {}
            for status in ("pending", "sending", "sent", "skipped", "failed"):
                response = await ah.client.get(
                    f"{ah.gateway}/api/v1/ops/adapter-deliveries", params={"status": status, "page_size": 1}
                )
                out[status] = response.json()["total"]
            return out

        settled = await eventually(
            totals,
            until=lambda t: t["skipped"] >= 600 and t["pending"] + t["sending"] == 0,
            timeout=120,
            interval=0.5,
            what="the updates of every imported order skipped",
        )
        assert settled["sent"] == settled["failed"] == 0
        records: list[dict[str, Any]] = (await ah.sim(SYSTEM, "GET", "/_sim/records"))["items"]
        assert {r["status"] for r in records} == {4} and await ah.received(SYSTEM) == []
