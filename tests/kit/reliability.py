"""What the proof suites (tests/chaos, issue 16) share: a steady load of work orders from a client that
behaves as 12345's does, the count of what became of them, dead letters and consumer outcomes, process
samples with their least-squares slope, and the figures printed as a table and (HUB_RECORD_RESULTS=1)
appended to benchmarks/RESULTS.md under "Reliability", with the commit and the date.

Counting is the chaos test's: every work order registered once (by its 12345 number), each case
dispatched once per department and round, each case's acceptance SMS handed to the provider once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from benchmarks.results import append_row
from hub.config import SERVICES, Settings
from hub.db import normalise_url
from hub.messaging.tables import KitTables
from tests.kit.http import http_client, limits
from tests.kit.sms import acceptance

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
# Where a suite's logs go: the test session's artifacts (HUB_TEST_ARTIFACTS), so a full-size run given its
# own directory is not wiped by another pytest session starting in the same checkout (tests/conftest.py).
ARTIFACTS = Path(os.environ.get("HUB_TEST_ARTIFACTS", "test-artifacts"))
SECTION = "## Reliability: proof suites (issue 16)"
HEADER = "| date (UTC) | machine | commit | suite | size | figures | time |"
PREFACE = (
    "The proof suites of tests/chaos (`pytest -m chaos`), one row per run with HUB_RECORD_RESULTS=1; "
    "sizes as run (the suites' docstrings give the env vars and full sizes).\n\n"
    f"{HEADER}\n|---|---|---|---|---|---|---|\n"
)


# --- the client ---------------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One request: its status (None: no answer), whether a 503 said when to retry, how long it took."""

    at: float  # time.monotonic() when sent
    status: int | None
    seconds: float
    retry_after: bool = False
    error: str | None = None


@dataclass
class LoadLog:
    attempts: list[Attempt] = field(default_factory=list)
    accepted: dict[int, str] = field(default_factory=dict)  # work order → case number
    posted: int = 0

    def statuses(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        """Answers by status ("503+Retry-After" when it said when to retry; the error when none came),
        of the requests sent in [since, until)."""
        return Counter(
            (a.error or "?")
            if a.status is None
            else (f"{a.status}+Retry-After" if a.retry_after else str(a.status))
            for a in self.attempts
            if since <= a.at < until
        )

    def latency(self, since: float = 0.0, until: float = float("inf")) -> str:
        """Median and slowest answer of the requests sent in [since, until) that got one."""
        times = sorted(a.seconds for a in self.attempts if a.status is not None and since <= a.at < until)
        if not times:
            return "no answers"
        return f"median {times[len(times) // 2]:.2f} s, slowest {times[-1]:.2f} s"

    def unanswered(self) -> int:
        return sum(1 for a in self.attempts if a.status is None)

    def slowest(self) -> float:
        return max((a.seconds for a in self.attempts), default=0.0)


class Client:
    """Posts work orders as 12345 does: the same work-order number until accepted; a 503's Retry-After
    is honoured, doubled on each further refusal of the same order (capped), so a long outage is not
    met with a storm; an unanswered request (the client's timeout) is retried after a back-off."""

    def __init__(
        self, gateway: str, log: LoadLog, *, timeout: float = 10.0, max_wait_s: float = 30.0
    ) -> None:
        self.gateway = gateway
        self.log = log
        self.timeout = timeout
        self.max_wait_s = max_wait_s
        # No cap on connections: a request waits for the hub, never in this client's own queue.
        self.http = http_client(
            timeout=timeout, limits=limits(max_connections=None, max_keepalive_connections=None)
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def post_until_accepted(self, i: int, body: dict[str, Any], give_up_s: float = 900) -> str:
        deadline = time.monotonic() + give_up_s
        wait = 1.0
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                # The client's timeout bounds the whole request (httpx's bounds each read and write).
                async with asyncio.timeout(self.timeout):
                    response = await self.http.post(f"{self.gateway}/api/v1/cases", json=body)
            except (httpx.TimeoutException, TimeoutError):
                self.log.attempts.append(Attempt(began, None, time.monotonic() - began, error="timeout"))
            except httpx.HTTPError as exc:
                self.log.attempts.append(
                    Attempt(began, None, time.monotonic() - began, error=type(exc).__name__)
                )
            else:
                retry_after = response.headers.get("retry-after")
                self.log.attempts.append(
                    Attempt(began, response.status_code, time.monotonic() - began, retry_after is not None)
                )
                if response.status_code in (200, 201):
                    case_no: str = response.json()["case_no"]
                    self.log.accepted[i] = case_no
                    return case_no
                if retry_after is not None and retry_after.isdigit():
                    wait = max(wait, float(retry_after))
            await asyncio.sleep(min(wait, self.max_wait_s))  # the client's back-off, not a synchronisation
            wait = min(wait * 2, self.max_wait_s)
        raise AssertionError(f"work order {i} never accepted")


async def steady_load(
    client: Client,
    body: Callable[[int], dict[str, Any]],
    *,
    rate: float,
    stop: asyncio.Event,
    tasks: list[asyncio.Task[str]],
    count: int | None = None,
) -> None:
    """New work orders at `rate` per second until `stop` is set (or `count` are posted), each on its own
    task (a slow answer does not hold back the next order); the tasks are appended to `tasks` for the
    caller to await."""
    began = time.monotonic()
    i = 0
    while not stop.is_set() and (count is None or i < count):
        due = began + i / rate
        # Pacing a steady load (woken early when told to stop).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - time.monotonic()))
        if stop.is_set():
            break
        tasks.append(asyncio.create_task(client.post_until_accepted(i, body(i))))
        client.log.posted += 1
        i += 1


# --- what became of the cases ---------------------------------------------------------------------------


def _engine(settings: Settings, service: str) -> AsyncEngine:
    url = normalise_url(settings.database_url_for(service))  # type: ignore[arg-type]
    if url.startswith("postgresql"):
        return create_async_engine(url, connect_args={"server_settings": {"search_path": service}})
    return create_async_engine(url)


async def rows(settings: Settings, service: str, sql: str) -> list[Any]:
    engine = _engine(settings, service)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


@dataclass
class Tally:
    work_orders: int
    registered: int  # distinct work orders with a case
    case_rows: int
    distinct_case_nos: int
    dispatched_cases: int
    referrals: int
    duplicate_referrals: int
    sms: int
    cases_with_sms: int
    duplicate_sms: int

    @property
    def lost(self) -> int:
        """Work orders without a case, cases without a referral or without their acceptance SMS."""
        return (
            (self.work_orders - self.registered)
            + (self.registered - self.dispatched_cases)
            + (self.registered - self.cases_with_sms)
        )

    @property
    def duplicates(self) -> int:
        return (self.case_rows - self.registered) + self.duplicate_referrals + self.duplicate_sms

    def figures(self) -> list[tuple[str, str]]:
        return [
            ("work orders", str(self.work_orders)),
            ("registered", str(self.registered)),
            ("dispatched", f"{self.dispatched_cases} cases, {self.referrals} referrals"),
            ("acceptance SMS", f"{self.sms} for {self.cases_with_sms} cases"),
            ("lost", str(self.lost)),
            (
                "duplicates",
                f"{self.duplicates} (cases {self.case_rows - self.registered}, referrals "
                f"{self.duplicate_referrals}, SMS {self.duplicate_sms})",
            ),
        ]


async def tally(settings: Settings, work_orders: int, sms_items: list[dict[str, Any]]) -> Tally:
    cases = await rows(settings, "intake", "SELECT source_ref, case_no FROM cases")
    referrals = await rows(settings, "referral", "SELECT case_no, department, round FROM referrals")
    sms = acceptance(sms_items)
    per_referral = Counter(tuple(r) for r in referrals)
    per_case_sms = Counter(m["params"]["case_no"] for m in sms)
    return Tally(
        work_orders=work_orders,
        registered=len({c.source_ref for c in cases}),
        case_rows=len(cases),
        distinct_case_nos=len({c.case_no for c in cases}),
        dispatched_cases=len({r.case_no for r in referrals}),
        referrals=len(referrals),
        duplicate_referrals=sum(n - 1 for n in per_referral.values()),
        sms=len(sms),
        cases_with_sms=len(per_case_sms),
        duplicate_sms=sum(n - 1 for n in per_case_sms.values()),
    )


async def dead_letters(gateway: str) -> tuple[int, list[str]]:
    """(dead letters of every service, open or resolved; services that did not answer), as ops see them."""
    async with http_client() as client:
        response = await client.get(
            f"{gateway}/api/v1/ops/dead-letters",
            params={"status": "all"},
            headers={"X-Hub-Actor-Role": "ops"},
        )
    response.raise_for_status()
    page = response.json()
    return int(page["total"]), list(page.get("unavailable", []))


async def consumer_outcomes(urls: dict[str, str]) -> Counter[str]:
    """hub_events_consumed_total by outcome (processed, duplicate, held, retried, dead_lettered) over the
    processes' /metrics (counted since each process started)."""
    outcomes: Counter[str] = Counter()
    async with http_client(timeout=10) as client:
        for url in urls.values():
            for line in (await client.get(f"{url}/metrics")).text.splitlines():
                if line.startswith("hub_events_consumed_total{"):
                    labels, value = line.rsplit(" ", 1)
                    outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
                    outcomes[outcome] += int(float(value))
    return outcomes


# --- messaging tables over time (retention) ---------------------------------------------------------------


def _kit_tables() -> dict[str, KitTables]:
    from gateway.tables import kit as gateway_kit
    from services.intake.tables import kit as intake_kit
    from services.notification.tables import kit as notification_kit
    from services.referral.tables import kit as referral_kit

    return {
        "gateway": gateway_kit,
        "intake": intake_kit,
        "referral": referral_kit,
        "notification": notification_kit,
    }


@dataclass
class MessagingRows:
    outbox: int
    unpublished: int
    oldest_published_s: float  # age of the oldest relayed outbox row still kept (0: none)
    inbox: int
    oldest_inbox_s: float


async def messaging_rows(settings: Settings) -> dict[str, MessagingRows]:
    kits = _kit_tables()
    now = datetime.now(UTC)
    found: dict[str, MessagingRows] = {}
    for service in SERVICES:
        kit = kits[service]
        engine = _engine(settings, service)
        try:
            async with engine.connect() as conn:
                outbox, unpublished, oldest_pub = (
                    await conn.execute(
                        select(
                            func.count(),
                            func.count().filter(kit.outbox.c.published_at.is_(None)),
                            func.min(kit.outbox.c.published_at),
                        )
                    )
                ).one()
                inbox, oldest_in = (
                    await conn.execute(select(func.count(), func.min(kit.inbox.c.processed_at)))
                ).one()
        finally:
            await engine.dispose()
        found[service] = MessagingRows(
            int(outbox),
            int(unpublished),
            (now - oldest_pub).total_seconds() if oldest_pub else 0.0,
            int(inbox),
            (now - oldest_in).total_seconds() if oldest_in else 0.0,
        )
    return found


# --- processes over time ------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in points) / var


# --- the figures ------------------------------------------------------------------------------------------


def _commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    sha = git("rev-parse", "--short", "HEAD") or "unknown"
    # RESULTS.md itself is what the figures are written to: its own change is no change of the code.
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/RESULTS.md")
    return f"{sha}+uncommitted" if dirty else sha


def _machine() -> str:
    load = os.getloadavg()[0]
    return f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, load {load:.1f}"


def failed(checks: dict[str, bool]) -> list[str]:
    """The names of the checks that do not hold."""
    return [name for name, holds in checks.items() if not holds]


def report(
    suite: str, size: str, figures: list[tuple[str, str]], seconds: float, failures: list[str] | None = None
) -> None:
    """Print the figures as a table, with the verdict; append them to benchmarks/RESULTS.md when
    HUB_RECORD_RESULTS=1 (a failed run too: its figures are what this code did on this machine)."""
    verdict = "FAILED: " + "; ".join(failures) if failures else "passed"
    figures = [*figures, ("verdict", verdict)]
    width = max(len(name) for name, _ in figures)
    lines = [
        f"\n{suite} ({size}; {seconds:.0f} s)",
        *(f"  {name:<{width}}  {value}" for name, value in figures),
    ]
    print("\n".join(lines))
    if os.environ.get("HUB_RECORD_RESULTS") != "1":
        return
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    cells = "; ".join(f"{name} {value}" for name, value in figures).replace("|", "/")
    row = f"| {stamp} | {_machine()} | {_commit()} | {suite} | {size} | {cells} | {seconds:.0f} s |"
    append_row(SECTION, PREFACE, row, RESULTS)
