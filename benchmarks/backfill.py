"""Back-fill benchmark (TARGETS.md performance 4): historical 12345 work orders imported through the
adapter path (mapping → intake's bulk import → link), with a progress bar, interrupted and resumed,
no duplicates.

The hub runs as real processes (as `hub up` runs it) against a fresh RabbitMQ vhost and SQLite (or
PostgreSQL with --database-url). `--orders 1000000` is the target's size; smaller runs report the
rate and project it to 10^6. Run from a checkout:

    python -m benchmarks.backfill --orders 1000000            # the target
    python -m benchmarks.backfill --orders 20000 --no-record  # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import func, select

from gateway.adapters.hotline12345.simulator import work_order
from gateway.adapters.hotline12345.sync import BackfillReport, backfill
from gateway.adapters.simkit import SimState
from gateway.settings import GatewaySettings
from hub.config import Environment, Settings
from hubcli.services import HubSettings
from hubcli.sync import progress_columns
from tests.kit.reliability import rss_mb, slope_per_minute

from .results import append_row

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Back-fill: historical 12345 work orders through the adapter path (TARGETS.md #4)"
TARGET_S = 600.0
TARGET_ORDERS = 1_000_000
console = Console(highlight=False)


def write_history(path: Path, count: int, *, seed: int = 7) -> None:
    """`count` historical work orders in the platform's own fields, one JSON object per line; most
    archived (已归档), some still open, each with its own household (address) and caller."""
    state = SimState("history", "unused", rng=random.Random(seed))
    statuses = (4, 4, 4, 3, 2)
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            order = work_order(state, status=statuses[i % len(statuses)], orderNo=f"GDH{i:09d}")
            handle.write(json.dumps(order, ensure_ascii=False, separators=(",", ":")) + "\n")


def _children(pid: int) -> list[int]:
    return [int(kid) for kid in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@dataclass
class MemoryWatch:
    """RSS of each process sampled every `every_s` while the back-fill runs: is memory flat?"""

    pids: dict[str, int]
    every_s: float = 2.0
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)

    async def run(self) -> None:
        started = time.monotonic()
        while True:
            now = time.monotonic() - started
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError):  # a worker that ended between listing and reading
                    self.samples.setdefault(name, []).append((now, rss_mb(pid)))
                    # Intake's import workers (its child processes), together.
                    if pid != os.getpid() and (kids := _children(pid)):
                        workers = sum(rss_mb(kid) for kid in kids)
                        self.samples.setdefault(f"{name}'s workers", []).append((now, workers))
            await asyncio.sleep(self.every_s)

    def summary(self) -> str:
        """Per process: first → peak → last MB, and the slope over the second half (MB/min): a leak
        grows there; a warm-up does not."""
        parts = []
        for name, points in self.samples.items():
            values = [mb for _, mb in points]
            half = points[len(points) // 2 :]
            slope = slope_per_minute(half)
            parts.append(f"{name} {values[0]:.0f} → {max(values):.0f} → {values[-1]:.0f} ({slope:+.1f}/min)")
        return "; ".join(parts)


@dataclass
class Outcome:
    orders: int
    first: BackfillReport
    second: BackfillReport
    cases: int
    distinct_refs: int
    memory: str = ""

    @property
    def seconds(self) -> float:
        return self.first.seconds + self.second.seconds

    @property
    def imported(self) -> int:
        return self.first.imported + self.second.imported

    @property
    def rate(self) -> float:
        return self.imported / self.seconds if self.seconds else 0.0


async def count_cases(settings: Settings) -> tuple[int, int]:
    from hub.db import Database, create_engine_for
    from services.intake.tables import cases

    db = Database(create_engine_for(settings, "intake"))
    try:
        async with db.sessions() as session:
            row = (
                await session.execute(
                    select(func.count(), func.count(func.distinct(cases.c.source_ref))).where(
                        cases.c.channel == "hotline12345"
                    )
                )
            ).one()
        return int(row[0]), int(row[1])
    finally:
        await db.dispose()


async def run_backfill(
    settings: GatewaySettings,
    path: Path,
    orders: int,
    *,
    in_flight: int = 3,
    batch_size: int = 1000,
    interrupt_at: int,
    show_progress: bool = True,
) -> Outcome:
    """Import `path` into a running hub (settings point at it): stop after `interrupt_at`, resume."""
    with Progress(*progress_columns(), console=console, transient=True, disable=not show_progress) as bar:
        task = bar.add_task("back-fill", total=orders)

        def advance(position: int, total: int | None) -> None:
            bar.update(task, completed=position, total=total)

        common: dict[str, Any] = {"path": path, "in_flight": in_flight, "batch_size": batch_size}
        first = await backfill(settings, **common, limit=interrupt_at, restart=True, progress=advance)
        second = await backfill(settings, **common, progress=advance)
    cases, distinct = await count_cases(settings)
    return Outcome(orders, first, second, cases, distinct)


async def bench(
    orders: int,
    in_flight: int,
    batch_size: int,
    database_url: str | None,
    interrupt: float,
    services: tuple[str, ...],
) -> Outcome:
    from tests.kit.infra import fresh_pg_database, fresh_vhost
    from tests.kit.processes import process_hub

    with tempfile.TemporaryDirectory(prefix="hub-backfill-") as tmp:
        data_dir = Path(tmp)
        path = data_dir / "history.jsonl"
        started = time.perf_counter()
        await asyncio.to_thread(write_history, path, orders)
        console.print(
            f"wrote {orders:,} work orders ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s"
        )
        async with contextlib.AsyncExitStack() as stack:
            amqp_url = await stack.enter_async_context(fresh_vhost())
            db_url = (
                await stack.enter_async_context(fresh_pg_database())
                if database_url == "fresh"
                else database_url
            )
            settings = HubSettings(
                env=Environment.test, data_dir=data_dir, amqp_url=amqp_url, database_url=db_url
            )
            hub = await stack.enter_async_context(process_hub(settings, data_dir / "logs", start=services))
            target = settings.model_copy(update={"intake_url": hub.url("intake")})
            pids = {name: proc.pid for name, proc in hub.procs.items() if name != "sms"}
            watch = MemoryWatch({**pids, "back-fill": os.getpid()})
            watching = asyncio.create_task(watch.run())
            try:
                outcome = await run_backfill(
                    target,
                    path,
                    orders,
                    in_flight=in_flight,
                    batch_size=batch_size,
                    interrupt_at=max(1, int(orders * interrupt)),
                )
            finally:
                watching.cancel()
            outcome.memory = watch.summary()
            return outcome


def _commit() -> str:
    try:
        head = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True).strip()
        dirty = subprocess.check_output(["git", "status", "--porcelain"], cwd=ROOT, text=True).strip()
        return f"{head}+uncommitted" if dirty else head
    except (OSError, subprocess.CalledProcessError):
        return "?"


def record(outcome: Outcome, *, database: str, in_flight: str, services: tuple[str, ...]) -> str:
    projected = TARGET_ORDERS / outcome.rate if outcome.rate else float("inf")
    load = f"{os.getloadavg()[1]:.1f}"  # 5-minute load average at the end: shared machines are slower
    met = "met" if projected <= TARGET_S else "**not met**"
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {platform.machine()} {os.cpu_count()} cores, load {load} "
        f"| {_commit()} | {database} "
        f"| {'+'.join(services)} | {outcome.orders:,} (interrupted at {outcome.first.position:,}, resumed) "
        f"| {in_flight} | {outcome.seconds:.0f} s | **{outcome.rate:.0f}/s** | {projected / 60:.0f} min | {met} "
        f"| {outcome.cases:,} cases, {outcome.distinct_refs:,} distinct refs | {outcome.memory} |"
    )
    append_row(
        SECTION,
        "`python -m benchmarks.backfill --orders N`: N work orders (JSON lines, the platform's fields) imported by "
        "`hub sync backfill`'s code into the hub running as processes; stopped part-way and resumed from the "
        "cursor; then every case counted once. Rate = imported / time of both runs; projected = 10^6 at that rate "
        "(target < 10 min).\n\n"
        "| date (UTC) | machine | commit | database | hub processes | orders | in flight | time | rate | "
        "10^6 projected | target | no duplicates | RSS MB first → peak → last (slope, second half) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
        row,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=TARGET_ORDERS)
    parser.add_argument("--in-flight", type=int, default=3, help="Batches at intake at once")
    parser.add_argument("--batch", type=int, default=1000, help="Work orders per bulk import")
    parser.add_argument(
        "--database-url", default=None, help="PostgreSQL URL, or 'fresh' for a throwaway database"
    )
    parser.add_argument("--interrupt", type=float, default=0.3, help="Stop after this fraction, then resume")
    parser.add_argument(
        "--services",
        default="sms,intake,referral,notification,gateway",
        help="Hub processes to run (intake,gateway alone isolates the adapter path)",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    services = tuple(s for s in args.services.split(",") if s)
    outcome = asyncio.run(
        bench(args.orders, args.in_flight, args.batch, args.database_url, args.interrupt, services)
    )
    database = "PostgreSQL" if args.database_url else "SQLite"
    console.print(
        f"{outcome.imported:,} imported in {outcome.seconds:.0f} s = [bold]{outcome.rate:.0f} work orders/s[/bold]; "
        f"resumed at {outcome.second.resumed_from:,}; {outcome.cases:,} cases, {outcome.distinct_refs:,} distinct; "
        f"10^6 projected {TARGET_ORDERS / outcome.rate / 60:.0f} min (target 10)"
    )
    console.print(f"memory (RSS MB, first → peak → last, slope over the second half): {outcome.memory}")
    if outcome.cases != outcome.distinct_refs or outcome.cases != args.orders:
        console.print("[bold red]duplicates or missing work orders[/bold red]")
        sys.exit(1)
    if not args.no_record:
        flight = f"{args.in_flight} × {args.batch}"
        console.print(record(outcome, database=database, in_flight=flight, services=services))


if __name__ == "__main__":
    main()
