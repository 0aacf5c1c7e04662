"""SQL statements and commits per case, by service and by statement (issue 17's "fewer round trips").

The whole hub in one process (tests/kit/inprocess.py: the same bootstraps as production) on a fresh
RabbitMQ vhost and fresh databases; `--cases` work orders posted with `--in-flight` at a time, as a
busy 12345 would; counting runs from the first post until every acceptance SMS has reached the
provider, so idle polls between cases do not inflate the figures (under load they are shared). The
cases are `hub bench`'s (benchmarks/e2e.py `case_body`). Each service's engine is counted on its own,
so the figures hold on PostgreSQL too (one database there).

    .venv/bin/python -m benchmarks.statements --cases 300 [--database postgresql] [--top 40]

Counts, not times: they do not drift with the machine, so two commits compare without running back to
back. CPU and latency: `hub bench` (benchmarks/e2e.py).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

from benchmarks.e2e import case_body
from hub.config import SERVICES
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import InProcessHub, make_settings, running_hub
from tests.kit.quiescence import wait_quiescent
from tests.kit.sms import acceptance
from tests.kit.waiting import eventually

_SPACES = re.compile(r"\s+")


class Meter:
    """Statements and commits of each service's engine while `on`."""

    def __init__(self, shape_chars: int = 100) -> None:
        self.on = False
        self.statements: Counter[str] = Counter()
        self.commits: Counter[str] = Counter()
        self.shapes: Counter[tuple[str, str]] = Counter()
        self.shape_chars = shape_chars

    def attach(self, hub: InProcessHub) -> None:
        for service in SERVICES:
            for engine in hub.runtime(service).db.engines:
                event.listen(engine.sync_engine, "before_cursor_execute", self._statement(service))
                event.listen(engine.sync_engine, "commit", self._commit(service))

    def _statement(self, service: str) -> Any:
        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if self.on:
                self.statements[service] += 1
                self.shapes[(service, _SPACES.sub(" ", statement)[: self.shape_chars])] += 1

        return count

    def _commit(self, service: str) -> Any:
        def count(_conn: Any) -> None:
            if self.on:
                self.commits[service] += 1

        return count


async def _acceptance_count(hub: InProcessHub) -> int:
    return len(acceptance(await hub.sms_received()))


async def measure(cases: int, in_flight: int, database: str) -> Meter:
    meter = Meter()
    with tempfile.TemporaryDirectory() as data_dir:
        async with isolated_backends(database) as (amqp_url, db_url):
            settings = make_settings(Path(data_dir), amqp_url, db_url)
            async with running_hub(settings) as hub, httpx.AsyncClient(timeout=60) as client:
                meter.attach(hub)
                # One case first, uncounted: caches, pools and first-use imports warm.
                (await client.post(f"{hub.gateway}/api/v1/cases", json=case_body(cases))).raise_for_status()
                await wait_quiescent(hub.settings, timeout=120)
                before = await _acceptance_count(hub)
                gate = asyncio.Semaphore(in_flight)

                async def post(i: int) -> None:
                    async with gate:
                        answer = await client.post(f"{hub.gateway}/api/v1/cases", json=case_body(i))
                        answer.raise_for_status()

                meter.on = True
                await asyncio.gather(*(post(i) for i in range(cases)))
                await eventually(
                    partial(_acceptance_count, hub),
                    until=lambda n: n >= before + cases,
                    what="every acceptance SMS",
                    timeout=600,
                )
                meter.on = False
    return meter


def show(meter: Meter, cases: int, database: str, top: int) -> None:
    console = Console()
    summary = Table(title=f"per case, {cases} cases, {database}")
    summary.add_column("service")
    summary.add_column("statements", justify="right")
    summary.add_column("commits", justify="right")
    rows: list[tuple[str, int, int]] = [(s, meter.statements[s], meter.commits[s]) for s in SERVICES]
    rows.append(("all", meter.statements.total(), meter.commits.total()))
    for service, statements, commits in rows:
        summary.add_row(service, f"{statements / cases:.1f}", f"{commits / cases:.1f}")
    console.print(summary)
    shapes = Table(title=f"the {top} most frequent statements, per case")
    shapes.add_column("per case", justify="right")
    shapes.add_column("service")
    shapes.add_column("statement", no_wrap=True, overflow="ellipsis")
    for (service, shape), n in meter.shapes.most_common(top):
        shapes.add_row(f"{n / cases:.2f}", service, shape)
    console.print(shapes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=16)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    meter = asyncio.run(measure(args.cases, args.in_flight, args.database))
    show(meter, args.cases, args.database, args.top)


if __name__ == "__main__":
    main()
