"""`hub sync …`: reconcile with and back-fill from external systems (the 12345 dual track)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from gateway.settings import GatewaySettings
from hubcli.terminal import console, read_settings

app = typer.Typer(
    help="Sync with external systems: reconcile, back-fill, retry failed updates.", no_args_is_help=True
)


SYNCABLE = ("hotline12345",)  # systems with a list API to compare with and import from
SYSTEMS = ("hotline12345", "police110", "court", "procuratorate12309")


def _settings() -> GatewaySettings:
    return read_settings(GatewaySettings)


def _only_syncable(system: str) -> None:
    if system not in SYNCABLE:
        console().print(f"[red]{system!r}: only {', '.join(SYNCABLE)} offers a list API to sync with[/red]")
        raise typer.Exit(2)


class RateColumn(ProgressColumn):
    """Work orders per second (Rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The back-fill's bar: done of total, rate, elapsed and ETA."""
    return (
        TextColumn("[bold]back-fill[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


@app.command()
def reconcile(
    system: Annotated[str, typer.Argument(help="hotline12345")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report drift, change nothing")] = False,
) -> None:
    """Compare the platform's work orders with the hub's ledger and repair drift; print what changed."""
    from gateway.adapters.hotline12345.sync import reconcile as run

    _only_syncable(system)
    settings = _settings()
    try:
        report = asyncio.run(run(settings, repair=not dry_run))
    except ValueError as exc:
        console().print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    table = Table(title=f"{system} reconciliation{' (dry run)' if dry_run else ''}")
    for column in ("work order", "case", "action", "detail"):
        table.add_column(column)
    for change in report.changes:
        table.add_row(change.ref, change.case_no or "", change.action, change.detail)
    console().print(table)
    console().print(
        f"platform {report.theirs} · hub {report.ours} · in sync {report.in_sync} · in flight {report.in_flight} · "
        f"imported {report.count('imported')} · retried {report.count('retried')} · "
        f"re-sent {report.count('resent')} · reported only {report.count('reported')}"
    )


@app.command()
def backfill(
    system: Annotated[str, typer.Argument(help="hotline12345")],
    file: Annotated[
        Path | None, typer.Argument(help="JSON lines of work orders in the platform's fields")
    ] = None,
    from_simulator: Annotated[
        bool, typer.Option("--from-simulator", help="Read the platform's list API (HUB_HOTLINE12345_URL)")
    ] = False,
    concurrency: Annotated[
        int, typer.Option(min=1, max=16, help="Batches at intake at once (bulk import)")
    ] = 3,
    batch: Annotated[int, typer.Option(min=1, max=2000, help="Work orders per batch")] = 1000,
    restart: Annotated[
        bool, typer.Option("--restart", help="Ignore the stored cursor, start at the top")
    ] = False,
) -> None:
    """Import historical work orders (resumable: the cursor lives in the gateway database; idempotent)."""
    from gateway.adapters.hotline12345.sync import backfill as run

    _only_syncable(system)
    if (file is None) == (not from_simulator):
        console().print("[red]give a FILE or --from-simulator (one of them)[/red]")
        raise typer.Exit(2)
    if file is not None and not file.is_file():
        console().print(f"[red]no such file: {file}[/red]")
        raise typer.Exit(2)
    settings = _settings()
    with Progress(*progress_columns(), console=console()) as bar:
        task = bar.add_task("back-fill", total=None)

        def advance(position: int, total: int | None) -> None:
            bar.update(task, completed=position, total=total)

        try:
            report = asyncio.run(
                run(
                    settings,
                    path=file,
                    from_simulator=from_simulator,
                    in_flight=concurrency,
                    batch_size=batch,
                    restart=restart,
                    progress=advance,
                )
            )
        except ValueError as exc:
            console().print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    console().print(
        f"resumed at {report.resumed_from} · now at {report.position}/{report.total} · imported {report.imported} · "
        f"already there {report.existing} · invalid {report.invalid} · {report.rate:.0f}/s"
    )
    for example in report.invalid_examples:
        console().print(f"  [yellow]{example}[/yellow]")


@app.command("retry-failed")
def retry_failed(
    system: Annotated[str, typer.Argument(help="hotline12345 | police110 | court | procuratorate12309")],
    case_no: Annotated[str | None, typer.Option("--case", help="Only this case")] = None,
) -> None:
    """Put failed outbound updates back in line (after the system or our configuration is fixed)."""
    from gateway.adapters.ledger import retry_failed as run
    from hub.db import Database, create_engine_for

    if system not in SYSTEMS:
        console().print(f"[red]unknown system {system!r}; choose one of {', '.join(SYSTEMS)}[/red]")
        raise typer.Exit(2)
    settings = _settings()

    async def go() -> int:
        db = Database(create_engine_for(settings, "gateway"))
        try:
            return await run(db, system, case_no)
        finally:
            await db.dispose()

    console().print(f"{asyncio.run(go())} failed update(s) of {system} back in line")
