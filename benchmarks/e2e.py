"""`hub bench`: end-to-end cases/s of the hub vs the raw 3-hop pipeline, measured in the same run.

Cases are posted to the gateway; each is registered (intake), dispatched (referral) and its
acceptance SMS handed to the SMS simulator (notification), with outbox, inbox and tracing on.
Run from a checkout: `hub bench` or `python -m benchmarks.e2e`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import Progress

from benchmarks.pipeline import run_pipeline
from hub.config import Environment, Settings
from hub.tracing import configure_tracing, instrument_libraries
from tests.kit.infra import fresh_vhost
from tests.kit.processes import process_hub

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
console = Console(highlight=False)


def case_body(i: int) -> dict[str, object]:
    return {
        "channel": "hotline12345",
        "source_ref": f"BENCH-{os.getpid()}-{i}",
        "request_type": "complaint",
        "title": "小区楼道堆放大件垃圾",
        "description": f"搬家后大件垃圾堆放在公共区域，老人被绊倒，请尽快清理（样本{i}）",
        "reporter": {"name": "李先生", "phone": f"139{i % 100_000_000:08d}"},
        "location": {"address": f"昆都仑区钢铁大街{i % 500}号", "street_code": "150203001000"},
        "people_involved": 1 + i % 4,
    }


async def run_e2e(amqp_url: str, cases: int, concurrency: int, data_dir: Path) -> float:
    settings = Settings(env=Environment.test, data_dir=data_dir, amqp_url=amqp_url)
    async with process_hub(settings, data_dir / "logs") as hub:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for i in range(cases):
                queue.put_nowait(i)

            async def worker() -> None:
                while not queue.empty():
                    i = queue.get_nowait()
                    response = await client.post(f"{hub.gateway}/api/v1/cases", json=case_body(i))
                    if response.status_code != 201:
                        raise RuntimeError(f"case {i}: HTTP {response.status_code} {response.text[:200]}")

            started = time.perf_counter()
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("cases → SMS", total=cases)
                posting = asyncio.gather(*(worker() for _ in range(concurrency)))
                delivered = 0
                while delivered < cases:
                    await asyncio.sleep(0.2)
                    delivered = (await client.get(f"{hub.url('sms')}/_sim/received/count")).json()["count"]
                    progress.update(task, completed=delivered)
                    if posting.done() and posting.exception():
                        raise posting.exception()  # type: ignore[misc]
                    if time.perf_counter() - started > 600:
                        raise TimeoutError(f"only {delivered} of {cases} SMS after 600 s")
                await posting
            return cases / (time.perf_counter() - started)


async def measure(cases: int, runs: int, concurrency: int) -> tuple[list[float], list[float]]:
    # The baseline runs with the same OpenTelemetry SDK and aio-pika instrumentation as the services.
    configure_tracing("bench", Settings())
    instrument_libraries()
    hub_rates, raw_rates = [], []
    for run in range(runs):
        async with fresh_vhost() as amqp_url:
            raw_rates.append(await run_pipeline(amqp_url, cases))
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
            async with fresh_vhost() as amqp_url:
                hub_rates.append(await run_e2e(amqp_url, cases, concurrency, Path(tmp)))
        console.print(
            f"run {run + 1}/{runs}: hub {hub_rates[-1]:.0f} cases/s, raw pipeline {raw_rates[-1]:.0f} msg/s"
        )
    return hub_rates, raw_rates


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() or "unknown"


def main(cases: int = 2000, runs: int = 3, record: bool = True, concurrency: int = 32) -> int:
    hub_rates, raw_rates = asyncio.run(measure(cases, runs, concurrency))
    hub_median, raw_median = statistics.median(hub_rates), statistics.median(raw_rates)
    ratio = hub_median / raw_median
    console.print(
        f"[bold]end to end[/bold] {hub_median:.0f} cases/s (median of {runs}), "
        f"[bold]raw 3-hop pipeline with OTel[/bold] {raw_median:.0f} msg/s, "
        f"[bold]ratio[/bold] {ratio:.2f} (target ≥ 0.50)"
    )
    if record:
        line = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {platform.node()} ({os.cpu_count()} cores, Python "
            f"{platform.python_version()}) | {_commit()} | e2e SQLite | {cases} × {runs} | "
            f"{hub_median:.0f} cases/s | {raw_median:.0f} msg/s | {ratio:.2f} |\n"
        )
        if not RESULTS.exists():
            RESULTS.write_text(
                "# Benchmark results\n\nEvery `hub bench` run appends a row (medians; ratio = hub / raw pipeline, "
                "same run, same machine).\n\n| date (UTC) | machine | commit | what | cases × runs | hub | "
                "raw 3-hop aio-pika + OTel | ratio |\n|---|---|---|---|---|---|---|---|\n"
            )
        with RESULTS.open("a") as fh:
            fh.write(line)
        console.print(f"recorded in {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    sys.exit(main(args.cases, args.runs, not args.no_record, args.concurrency))
