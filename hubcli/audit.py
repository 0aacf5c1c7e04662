"""`hub audit verify` and `hub pii rotate`: checks and chores over every service's database.

Registered in hubcli/main.py as one sub-app whose groups (`audit`, `pii`) appear at the top level.
The async functions (`verify_all`, `rotate_all`) are what the commands run; tests call them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable
from sqlalchemy import MetaData, inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import audit
from hub.config import SERVICES, ServiceName, Settings
from hub.db import Database, create_engine_for
from hubcli.pii_dead_letters import rotate_dead_letters
from hubcli.pii_rotation import (
    ORDER,
    ROTATION_ACTOR,
    Rotation,
    ServiceRotation,
    TableRotation,
    _no_progress,
    rotate_database,
)
from hubcli.pii_rotation import Progress as ProgressFn
from hubcli.terminal import console, read_settings

app = typer.Typer(add_completion=False)
audit_app = typer.Typer(help="The hash-chained audit log of every service.", no_args_is_help=True)
pii_app = typer.Typer(help="Personal data at rest (encrypted fields).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(pii_app, name="pii")

__all__ = ["ROTATION_ACTOR", "ServiceRotation", "TableRotation", "rotate_all", "rotate_service", "verify_all"]


def _settings() -> Settings:
    return read_settings(Settings)


def _sqlite_file(settings: Settings, service: ServiceName) -> Path | None:
    url = settings.database_url_for(service)
    prefix = "sqlite+aiosqlite:///"
    return Path(url[len(prefix) :]) if url.startswith(prefix) else None


@contextlib.asynccontextmanager
async def _engine(settings: Settings, service: ServiceName) -> AsyncIterator[AsyncEngine | None]:
    """The service's engine, or None when its embedded database does not exist (never create one here)."""
    path = _sqlite_file(settings, service)
    if path is not None and not path.exists():
        yield None
        return
    engine = create_engine_for(settings, service)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _has_table(engine: AsyncEngine, name: str) -> bool:
    async with engine.connect() as conn:
        return bool(await conn.run_sync(lambda sync: inspect(sync).has_table(name)))


# --- audit verify --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceVerification:
    service: str
    present: bool  # the service has an audit log
    result: audit.VerifyResult | None = None

    @property
    def ok(self) -> bool:
        return self.result is None or self.result.ok


async def verify_service(settings: Settings, service: ServiceName) -> ServiceVerification:
    async with _engine(settings, service) as engine:
        if engine is None or not await _has_table(engine, audit.TABLE_NAME):
            return ServiceVerification(service, False)
        table = audit.define_audit_table(MetaData())
        async with Database(engine).sessions() as session:
            rows = await audit.read_chain(session, table)
        return ServiceVerification(service, True, audit.verify(rows, settings.hash_key))


async def verify_all(settings: Settings) -> list[ServiceVerification]:
    return [await verify_service(settings, service) for service in SERVICES]


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every service's audit chain; print the first bad entry; exit 1 on any failure."""
    settings = _settings()
    reports = asyncio.run(verify_all(settings))
    table = RichTable(title="审计日志校验 audit log verification")
    for column in ("service", "result", "entries", "head (seq / hash)", "key segments", "first bad entry"):
        table.add_column(column)
    for report in reports:
        r = report.result
        if r is None:
            table.add_row(report.service, "no audit log", "", "", "", "")
        elif r.ok:
            head = f"{r.head_seq} / {r.head_hash[:16]}…" if r.head_hash else "(empty)"
            segments = " → ".join(f"v{v} {mac} from {seq}" for v, mac, seq in r.segments)
            table.add_row(report.service, "[green]ok[/green]", str(r.checked), head, segments, "")
        else:
            table.add_row(
                report.service,
                "[bold red]FAILED[/bold red]",
                str(r.checked),
                "",
                "",
                f"{r.first_bad_seq}: {r.reason}",
            )
    console().print(table)
    failed = [r.service for r in reports if not r.ok]
    if failed:
        console().print(f"[bold red]audit chain broken in: {', '.join(failed)}[/bold red]")
        raise typer.Exit(1)
    console().print(
        "Record the head hashes elsewhere: a chain cannot show that its newest entries were cut off."
    )


# --- pii rotate (the work: hubcli/pii_rotation.py) ---------------------------------------------------


async def rotate_service(
    settings: Settings,
    service: ServiceName,
    *,
    dry_run: bool = False,
    batch: int = 500,
    rotation: Rotation | None = None,
) -> ServiceRotation:
    rotation = rotation or Rotation(settings, dry_run=dry_run, batch=batch, progress=_no_progress)
    async with _engine(settings, service) as engine:
        if engine is None:
            return ServiceRotation(service)
        return await rotate_database(rotation, service, engine)


async def rotate_all(
    settings: Settings,
    *,
    dry_run: bool = False,
    batch: int = 500,
    progress: ProgressFn | None = None,
    queues: bool = True,
) -> list[ServiceRotation]:
    """Every service, intake first (what it learns maps the hashes others keep without plaintext), then
    the dead-letter queues (`queues`; the broker must be reachable)."""
    rotation = Rotation(settings, dry_run=dry_run, batch=batch, progress=progress or _no_progress)
    by_service = {s: await rotate_service(settings, s, rotation=rotation) for s in ORDER}
    reports = [by_service[s] for s in SERVICES]
    if queues:
        from gateway.ops.dead_letters import WATCHED_QUEUES

        reports.append(
            ServiceRotation("broker", [await rotate_dead_letters(rotation, settings, WATCHED_QUEUES)])
        )
    return reports


@pii_app.command("rotate")
def pii_rotate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only, change nothing")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Rows per transaction")] = 500,
    skip_queues: Annotated[
        bool, typer.Option("--skip-queues", help="Leave the dead-letter queues (broker unreachable)")
    ] = False,
) -> None:
    """Re-encrypt personal data (tables, outbox copies) under HUB_PII_KEY in the HUB_CRYPTO suite, bound
    to each row; recompute keyed hashes with HUB_HASH_KEY (docs/cryptography.md "Rotation")."""
    settings = _settings()
    with Progress(
        TextColumn("[bold]{task.description}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def advance(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        reports = asyncio.run(
            rotate_all(settings, dry_run=dry_run, batch=batch, progress=advance, queues=not skip_queues)
        )
    table = RichTable(title="个人信息密钥轮换 personal-data key rotation" + (" (dry run)" if dry_run else ""))
    for column in ("service", "table", "fields", "rows", "values", "hashes", "undecryptable", "unmapped"):
        table.add_column(column)
    for report in reports:
        for t in report.tables:
            table.add_row(
                report.service,
                t.table,
                ", ".join(t.columns),
                str(t.rows),
                str(t.values),
                str(t.hashes),
                str(t.undecryptable),
                str(t.unmapped),
            )
    console().print(table)
    bad = sum(r.undecryptable for r in reports)
    if bad:
        console().print(
            f"[bold red]{bad} value(s) open with no configured key: keep their key in HUB_PII_OLD_KEYS[/bold red]"
        )
        raise typer.Exit(1)
    unmapped = sum(r.unmapped for r in reports)
    if unmapped:
        console().print(
            f"[yellow]{unmapped} keyed hash(es) kept without plaintext (e.g. opt-outs of numbers never "
            "seen in a case) could not be mapped to the new hash key: they no longer match[/yellow]"
        )
    console().print(
        "Values re-encrypted; old keys not needed by these tables any more"
        + (" (dead-letter queues skipped: docs/cryptography.md)." if skip_queues else ".")
        if not dry_run
        else ""
    )
