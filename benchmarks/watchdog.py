"""Watchdog benchmark (TARGETS.md performance target 3).

With 10^6 closed and 10^4 open referrals in PostgreSQL, one watchdog tick — find and claim everything
due — must take < 50 ms, and its cost must not grow with the number of closed referrals. This fills a
fresh PostgreSQL database (the referral schema from its migration) with COPY, times the watchdog's own
claim (`Watchdog.claim_due`, the code that runs in production) first with the open referrals alone
(the baseline, in the same run) and then with 10^6 closed referrals added, reports medians of several
ticks, and captures EXPLAIN (ANALYZE, BUFFERS) of the claim query to show it reads the partial
deadline index. Loopback only; the database is dropped afterwards.

Run: `.venv/bin/python -m benchmarks.watchdog [--closed N] [--open N] [--due-share F] [--runs N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from sqlalchemy.dialects import postgresql

from hub.config import Environment, Settings
from hub.db import Database, create_engine_for
from hub.messaging.outbox import Outbox
from services.referral.clock import ManualClock
from services.referral.config import ReferralConfig
from services.referral.migrations import migrate
from services.referral.tables import kit
from services.referral.usecases.wiring import build_use_cases
from services.referral.watchdog import Watchdog
from tests.kit.infra import fresh_pg_database

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Watchdog: one tick over 10^6 closed + 10^4 open referrals (TARGETS.md #3)"
console = Console(highlight=False)

NOW = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # business "now" of the benchmark (12:00 Asia/Shanghai)
CHUNK = 50_000
DEPARTMENTS = [
    ("police_station@150203001000", "包头市公安局昆都仑区分局白云路派出所"),
    ("housing_bureau@150203", "昆都仑区住房和城乡建设局"),
    ("community@150203001000", "白云路街道社区工作办公室"),
    ("justice_office@150203001000", "昆都仑区司法局白云路司法所"),
]
CASE_COLUMNS = [
    "case_no", "status", "channel", "category", "colour", "response_level", "intake_response_level",
    "street_code", "anonymous", "round", "registered_at", "updated_at", "closed_at", "close_reason",
]  # fmt: skip
REFERRAL_COLUMNS = [
    "id", "case_no", "round", "department", "department_name", "role", "status", "suspended",
    "procedure_id", "procedure_version", "response_level", "dispatched_at", "ack_due_at", "due_at",
    "return_until", "deadline_provisional", "supervision_level", "acknowledged_at", "replied_at",
    "reply_outcome", "updated_at",
]  # fmt: skip
DEADLINE_COLUMNS = [
    "case_no", "referral_id", "department", "kind", "procedure_id", "procedure_version", "limit_text",
    "started_at", "due_at", "extension", "provisional", "provisional_years", "status", "met_at",
    "supervision_level", "follow_up_seq", "next_check_at", "updated_at",
]  # fmt: skip


def _rows(
    prefix: str, start: int, count: int, *, closed: bool, due_share: float
) -> Iterator[tuple[list[Any], ...]]:
    """Cases, referrals and deadlines for `count` referrals, in chunks (bounded memory)."""
    for chunk_start in range(start, start + count, CHUNK):
        cases: list[tuple[Any, ...]] = []
        referrals: list[tuple[Any, ...]] = []
        deadlines: list[tuple[Any, ...]] = []
        for i in range(chunk_start, min(start + count, chunk_start + CHUNK)):
            case_no = f"{prefix}-{i:08d}"
            rid = str(uuid.UUID(int=(1 if closed else 2) << 64 | i))
            department, name = DEPARTMENTS[i % len(DEPARTMENTS)]
            # Open referrals were dispatched over the last ten days; a `due_share` of them have a
            # ladder step due now, the others later. Closed ones over the last three years.
            if closed:
                dispatched = NOW - timedelta(days=30 + i % 1000, minutes=i % 1440)
            else:
                dispatched = NOW - timedelta(days=i % 10, minutes=i % 1440)
            ack_due = dispatched + timedelta(days=1)
            due = dispatched + timedelta(days=7)
            if closed:
                next_check = None
            else:
                due_now = (i * 7919) % 10_000 < due_share * 10_000
                next_check = (
                    NOW - timedelta(minutes=1 + i % 600) if due_now else NOW + timedelta(hours=1 + i % 200)
                )
            status_case, status_ref = ("closed", "replied") if closed else ("in_progress", "acknowledged")
            cases.append(
                (case_no, status_case, "hotline12345", "noise", "blue", "time_limited", "immediate",
                 "150203001000", False, 1, dispatched, dispatched, dispatched + timedelta(days=3) if closed else None,
                 "callback" if closed else None)
            )  # fmt: skip
            referrals.append(
                (rid, case_no, 1, department, name, "lead", status_ref, False, "135", 1, "time_limited",
                 dispatched, ack_due, due, dispatched + timedelta(days=2), False, "none",
                 dispatched + timedelta(hours=2), dispatched + timedelta(days=3) if closed else None,
                 "resolved" if closed else None, dispatched)
            )  # fmt: skip
            deadlines.append(
                (case_no, rid, department, "acknowledge", "135", 1, "1 working_days", dispatched, ack_due, 0, False,
                 "[]", "met", dispatched + timedelta(hours=2), "none", 0, None, dispatched)
            )  # fmt: skip
            deadlines.append(
                (case_no, rid, department, "handling", "135", 1, "7 working_days", dispatched, due, 0, False, "[]",
                 "met" if closed else "open", dispatched + timedelta(days=3) if closed else None, "none", 0,
                 next_check, dispatched)
            )  # fmt: skip
        yield cases, referrals, deadlines


async def fill(pg_url: str, prefix: str, count: int, *, closed: bool, due_share: float) -> float:
    started = time.perf_counter()
    conn = await asyncpg.connect(pg_url, server_settings={"search_path": "referral"})
    try:
        with contextlib.suppress(asyncpg.PostgresError):  # generated data is consistent by construction:
            await conn.execute("SET session_replication_role = replica")  # skip FK triggers if allowed
        for cases, referrals, deadlines in _rows(prefix, 0, count, closed=closed, due_share=due_share):
            async with conn.transaction():
                await conn.copy_records_to_table("cases", records=cases, columns=CASE_COLUMNS)
                await conn.copy_records_to_table("referrals", records=referrals, columns=REFERRAL_COLUMNS)
                await conn.copy_records_to_table("deadlines", records=deadlines, columns=DEADLINE_COLUMNS)
        # As autovacuum would leave them, but now rather than in the middle of a timed tick.
        await conn.execute("VACUUM (ANALYZE) cases")
        await conn.execute("VACUUM (ANALYZE) referrals")
        await conn.execute("VACUUM (ANALYZE) deadlines")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def time_ticks(watchdog: Watchdog, runs: int) -> tuple[list[float], int]:
    """Median material: each run claims everything due (batches until empty), then releases it."""
    timings: list[float] = []
    claimed = 0
    for _ in range(runs + 1):  # the first run warms the pool and the plan cache; it is not counted
        started = time.perf_counter()
        ids: list[int] = []
        while True:
            batch = await watchdog.claim_due(watchdog.batch)
            ids += [i for i, _ in batch]
            if len(batch) < watchdog.batch:
                break
        elapsed = time.perf_counter() - started
        claimed = len(ids)
        await release(watchdog, ids)
        timings.append(elapsed)
    return timings[1:], claimed


async def release(watchdog: Watchdog, ids: list[int]) -> None:
    from sqlalchemy import update

    from services.referral.tables import deadlines

    async with watchdog.db.transaction() as session:
        await session.execute(
            update(deadlines).where(deadlines.c.id.in_(ids)).values(claim_token=None, claimed_until=None)
        )


async def explain(pg_url: str, watchdog: Watchdog) -> str:
    query = watchdog.claim_statement(watchdog.clock(), datetime.now(UTC), watchdog.batch, "explain")
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    conn = await asyncpg.connect(pg_url, server_settings={"search_path": "referral"})
    try:
        async with conn.transaction():
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql)
            plan = "\n".join(r[0] for r in rows)
            raise _Rollback(plan)
    except _Rollback as done:
        return done.plan
    finally:
        await conn.close()


class _Rollback(Exception):
    def __init__(self, plan: str) -> None:
        super().__init__("rollback")
        self.plan = plan


# Due open rows have next_check_at spread over the 600 minutes before NOW: a business clock 541
# minutes earlier sees a tenth of them due (what a watchdog that was away ~1 hour would find), NOW all of
# them (a catch-up after ~10 hours away). A running watchdog ticking every second finds a handful.
SCENARIOS = (("after ~1 h away", NOW - timedelta(minutes=541)), ("after ~10 h away", NOW))


async def measure(
    pg_url: str, watchdog: Watchdog, clock: ManualClock, runs: int
) -> dict[str, tuple[list[float], int, float]]:
    """Per scenario: client-side tick times, rows claimed, and the server's own execution time of one
    claim statement (median of EXPLAIN ANALYZE runs, rolled back): less exposed to the machine's noise."""
    measured = {}
    for name, when in SCENARIOS:
        clock.set(when)
        timings, claimed = await time_ticks(watchdog, runs)
        server = [_execution_ms(await explain(pg_url, watchdog)) for _ in range(runs)]
        measured[name] = (timings, claimed, statistics.median(server))
    return measured


def _execution_ms(plan: str) -> float:
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(found.group(1)) if found else float("nan")


async def run(closed: int, open_: int, due_share: float, runs: int) -> dict[str, Any]:
    async with fresh_pg_database() as pg_url:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(env=Environment.test, data_dir=Path(tmp), database_url=pg_url)
            await asyncio.to_thread(migrate, settings)
        clock = ManualClock(NOW)
        usecases = build_use_cases(ReferralConfig.load(), clock, Outbox(kit.outbox, source="hub/referral"))
        db = Database(create_engine_for(settings, "referral"))
        watchdog = Watchdog(db, usecases, batch=500)
        try:
            console.print(f"filling {open_:,} open referrals …")
            fill_open_s = await fill(pg_url, "OPEN", open_, closed=False, due_share=due_share)
            baseline = await measure(pg_url, watchdog, clock, runs)
            clock.set(NOW)
            baseline_plan = await explain(pg_url, watchdog)
            console.print(f"filling {closed:,} closed referrals (COPY) …")
            fill_closed_s = await fill(pg_url, "DONE", closed, closed=True, due_share=due_share)
            loaded = await measure(pg_url, watchdog, clock, runs)
            clock.set(NOW)
            plan = await explain(pg_url, watchdog)
            conn = await asyncpg.connect(pg_url, server_settings={"search_path": "referral"})
            try:
                counts = {
                    t: await conn.fetchval(f"SELECT count(*) FROM {t}")  # noqa: S608 - fixed table names
                    for t in ("cases", "referrals", "deadlines")
                }
                index_size = await conn.fetchval(
                    "SELECT pg_size_pretty(pg_relation_size('ix_deadlines_next_check'))"
                )
                server = await conn.fetchval("SHOW server_version")
            finally:
                await conn.close()
        finally:
            await db.dispose()
    scenarios = []
    for name, _ in SCENARIOS:
        (base, due_base, base_server), (full, due, full_server) = baseline[name], loaded[name]
        assert due == due_base, "the closed referrals must not add due rows"
        scenarios.append(
            {
                "name": name,
                "due": due,
                "baseline_ms": [round(t * 1000, 2) for t in base],
                "loaded_ms": [round(t * 1000, 2) for t in full],
                "baseline_median_ms": statistics.median(base) * 1000,
                "loaded_median_ms": statistics.median(full) * 1000,
                "baseline_server_ms": base_server,
                "loaded_server_ms": full_server,
            }
        )
    return {
        "closed": closed,
        "open": open_,
        "runs": runs,
        "scenarios": scenarios,
        "fill_open_s": fill_open_s,
        "fill_closed_s": fill_closed_s,
        "counts": counts,
        "index_size": index_size,
        "server": server,
        "load": os.getloadavg(),
        "plan": plan,
        "buffers": (_buffers(baseline_plan), _buffers(plan)),
    }


def _buffers(plan: str) -> tuple[int, int]:
    """Pages touched by the whole claim statement (its top node) and by finding the due rows (the
    `ANY_subquery` node: index scan + row locks), as shared hit + read."""

    def pages(after: str) -> int:
        lines = plan.splitlines()
        for i, line in enumerate(lines):
            if after in line:
                for following in lines[i:]:
                    if "Buffers:" in following:
                        return sum(int(n) for n in re.findall(r"(?:hit|read)=(\d+)", following))
        return -1

    return pages("Update on deadlines"), pages('Subquery Scan on "ANY_subquery"')


def _commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{sha}{' (+ uncommitted changes)' if dirty else ''}"


def report(result: dict[str, Any]) -> str:
    machine = (
        f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · Python {sys.version.split()[0]} "
        f"· PostgreSQL {result['server']} · load average at the end {result['load'][0]:.1f}"
    )
    lines = [
        f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {machine}",
        f"- commit: {_commit()}",
        f"- data: {result['counts']['cases']:,} cases, {result['counts']['referrals']:,} referrals "
        f"({result['closed']:,} closed, {result['open']:,} open), {result['counts']['deadlines']:,} deadline rows; "
        f"partial index `ix_deadlines_next_check` {result['index_size']}; closed ones loaded by COPY in "
        f"{result['fill_closed_s']:.1f} s",
        f"- one tick = find and claim everything due (`Watchdog.claim_due` in batches of 500 until empty, one "
        f"UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING per batch); median of {result['runs']} "
        "after one warm-up; baseline = the same ticks with only the open referrals, earlier in the same run",
        "",
        "| due rows | tick, open only (baseline) | tick, + closed | ratio | target < 50 ms | server time per "
        "claim statement, baseline → + closed |",
        "|---|---|---|---|---|---|",
    ]
    for sc in result["scenarios"]:
        ratio = sc["loaded_median_ms"] / sc["baseline_median_ms"]
        lines.append(
            f"| {sc['due']:,} ({sc['name']}) | {sc['baseline_median_ms']:.1f} ms | **{sc['loaded_median_ms']:.1f} ms** "
            f"| {ratio:.2f}× | {'met' if sc['loaded_median_ms'] < 50 else 'NOT met'} "
            f"| {sc['baseline_server_ms']:.2f} ms → {sc['loaded_server_ms']:.2f} ms |"
        )
    lines += ["", "All runs (ms):", ""]
    for sc in result["scenarios"]:
        lines.append(f"- {sc['due']:,} due, baseline: {', '.join(str(t) for t in sc['baseline_ms'])}")
        lines.append(f"- {sc['due']:,} due, + closed: {', '.join(str(t) for t in sc['loaded_ms'])}")
    (base_total, base_find), (loaded_total, loaded_find) = result["buffers"]
    lines += [
        "",
        "Pages touched by one claim statement (up to 500 rows), a measure free of the machine's noise: finding "
        f"and locking the due rows {base_find:,} with the open referrals only, {loaded_find:,} with the closed "
        f"ones added; the whole statement {base_total:,} → {loaded_total:,} (the rest is updating the claimed rows "
        "by primary key, a b-tree descent each).",
        "",
        "EXPLAIN (ANALYZE, BUFFERS) of one claim statement (rolled back), closed referrals loaded, everything due:",
        "",
        "```",
        result["plan"],
        "```",
        "",
    ]
    return "\n".join(lines)


E2E_HEADER = (
    "# Benchmark results\n\nEvery `hub bench` run appends a row (medians; ratio = hub / raw pipeline, "
    "same run, same machine).\n\n| date (UTC) | machine | commit | what | cases × runs | hub | "
    "raw 3-hop aio-pika + OTel | ratio |\n|---|---|---|---|---|---|---|---|\n"
)  # the same header `hub bench` (benchmarks/e2e.py) writes when it creates the file


def append_results(text: str) -> None:
    """Add the entry at the end of our own section, below the e2e table at the top of the file."""
    existing = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else E2E_HEADER
    if SECTION not in existing:
        intro = "Run with `.venv/bin/python -m benchmarks.watchdog`; each run adds one entry to this section."
        existing = existing.rstrip("\n") + "\n\n" + SECTION + "\n\n" + intro + "\n"
    start = existing.index(SECTION) + len(SECTION)
    following = existing.find("\n## ", start)
    end = len(existing) if following < 0 else following
    updated = existing[:end].rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n" + existing[end:]
    RESULTS.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--closed", type=int, default=1_000_000)
    parser.add_argument("--open", dest="open_", type=int, default=10_000)
    parser.add_argument("--due-share", type=float, default=0.1, help="share of open referrals due now")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-record", action="store_true", help="print only, do not append to RESULTS.md")
    args = parser.parse_args()
    result = asyncio.run(run(args.closed, args.open_, args.due_share, args.runs))
    text = report(result)
    console.print(text)
    console.print(json.dumps({k: v for k, v in result.items() if k != "plan"}, default=str), soft_wrap=True)
    if not args.no_record:
        append_results(text)
        console.print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
