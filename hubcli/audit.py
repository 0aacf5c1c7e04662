"""`hub audit verify` and `hub pii rotate`: checks and chores over every service's database.

Registered in hubcli/main.py as one sub-app whose groups (`audit`, `pii`) appear at the top level.
The async functions (`verify_all`, `rotate_all`) are what the commands run; tests call them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable
from sqlalchemy import MetaData, Table, and_, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import audit
from hub.config import SERVICES, ServiceName, Settings
from hub.crypto import DecryptionError, FieldCipher
from hub.db import Database, create_engine_for
from hubcli.terminal import console, read_settings

app = typer.Typer(add_completion=False)
audit_app = typer.Typer(help="The hash-chained audit log of every service.", no_args_is_help=True)
pii_app = typer.Typer(help="Personal data at rest (encrypted fields).", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(pii_app, name="pii")


ROTATION_ACTOR = ("system", "hub pii rotate")


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
    for column in ("service", "result", "entries", "head (seq / hash)", "first bad entry"):
        table.add_column(column)
    for report in reports:
        r = report.result
        if r is None:
            table.add_row(report.service, "no audit log", "", "", "")
        elif r.ok:
            head = f"{r.head_seq} / {r.head_hash[:16]}…" if r.head_hash else "(empty)"
            table.add_row(report.service, "[green]ok[/green]", str(r.checked), head, "")
        else:
            table.add_row(
                report.service,
                "[bold red]FAILED[/bold red]",
                str(r.checked),
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


# --- pii rotate ----------------------------------------------------------------------------------


@dataclass
class TableRotation:
    table: str
    columns: list[str]
    rows: int = 0  # rows re-encrypted
    values: int = 0  # fields re-encrypted
    undecryptable: int = 0  # fields no key in the ring opens


@dataclass
class ServiceRotation:
    service: str
    tables: list[TableRotation] = field(default_factory=list)

    @property
    def undecryptable(self) -> int:
        return sum(t.undecryptable for t in self.tables)


def _encrypted_tables(metadata: MetaData) -> list[tuple[Table, list[str]]]:
    """Tables with encrypted fields: by the hub's convention, columns named `*_enc`."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.columns if c.name.endswith("_enc")]
        if columns and len(table.primary_key.columns) == 1:
            found.append((table, columns))
    return found


async def rotate_service(
    settings: Settings, service: ServiceName, *, dry_run: bool = False, batch: int = 500
) -> ServiceRotation:
    cipher = FieldCipher(settings.pii_key, settings.pii_old_keys)
    report = ServiceRotation(service)
    async with _engine(settings, service) as engine:
        if engine is None:
            return report
        metadata = MetaData()
        async with engine.connect() as conn:
            await conn.run_sync(lambda sync: metadata.reflect(sync))
        db = Database(engine)
        for table, columns in _encrypted_tables(metadata):
            report.tables.append(
                await _rotate_table(db, table, columns, cipher, dry_run=dry_run, batch=batch)
            )
        changed = [t for t in report.tables if t.values or t.undecryptable]
        if changed and not dry_run and audit.TABLE_NAME in metadata.tables:
            async with db.transaction() as session:
                await audit.append(
                    session,
                    audit.define_audit_table(MetaData()),
                    key=settings.hash_key,
                    actor_role=ROTATION_ACTOR[0],
                    actor_id=ROTATION_ACTOR[1],
                    actor_kind="system",
                    action="pii.rotated",
                    case_no=None,
                    detail={
                        "tables": {
                            t.table: {"rows": t.rows, "values": t.values, "undecryptable": t.undecryptable}
                            for t in changed
                        }
                    },
                )
    return report


async def _rotate_table(
    db: Database, table: Table, columns: list[str], cipher: FieldCipher, *, dry_run: bool, batch: int
) -> TableRotation:
    stats = TableRotation(table.name, columns)
    pk = next(iter(table.primary_key.columns))
    last: Any = None
    while True:
        query = select(pk, *(table.c[c] for c in columns)).order_by(pk).limit(batch)
        if last is not None:
            query = query.where(pk > last)
        async with db.transaction() as session:
            rows = list(await session.execute(query))
            for row in rows:
                new_values: dict[str, str] = {}
                guards = [pk == row[0]]
                for i, name in enumerate(columns, start=1):
                    token = row[i]
                    if token is None or not cipher.needs_rotation(token):
                        continue
                    try:
                        plaintext = cipher.decrypt(token)
                    except DecryptionError:
                        stats.undecryptable += 1
                        continue
                    new_values[name] = cipher.encrypt(plaintext) or ""
                    guards.append(table.c[name] == token)  # unchanged since read, or leave it be
                if not new_values:
                    continue
                stats.rows += 1
                stats.values += len(new_values)
                if not dry_run:
                    await session.execute(update(table).where(and_(*guards)).values(**new_values))
        if len(rows) < batch:
            return stats
        last = rows[-1][0]


async def rotate_all(settings: Settings, *, dry_run: bool = False, batch: int = 500) -> list[ServiceRotation]:
    return [await rotate_service(settings, s, dry_run=dry_run, batch=batch) for s in SERVICES]


@pii_app.command("rotate")
def pii_rotate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only, change nothing")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Rows per transaction")] = 500,
) -> None:
    """Re-encrypt personal-data fields still under a key from HUB_PII_OLD_KEYS with HUB_PII_KEY."""
    settings = _settings()
    reports = asyncio.run(rotate_all(settings, dry_run=dry_run, batch=batch))
    table = RichTable(title="个人信息密钥轮换 personal-data key rotation" + (" (dry run)" if dry_run else ""))
    for column in ("service", "table", "fields", "rows", "values", "undecryptable"):
        table.add_column(column)
    for report in reports:
        for t in report.tables:
            table.add_row(
                report.service,
                t.table,
                ", ".join(t.columns),
                str(t.rows),
                str(t.values),
                str(t.undecryptable),
            )
    console().print(table)
    bad = sum(r.undecryptable for r in reports)
    if bad:
        console().print(
            f"[bold red]{bad} value(s) open with no configured key: keep their key in HUB_PII_OLD_KEYS[/bold red]"
        )
        raise typer.Exit(1)
    console().print(
        "Values re-encrypted; old keys not needed by these tables any more." if not dry_run else ""
    )
