"""`hub pii rotate`'s work: every encrypted field and every keyed hash under the current settings.

For each service's database (intake first: what it learns maps the hashes the others keep without
the plaintext):

1. Encrypted fields: every `*_enc` column of a table with a one-column primary key is decrypted (any
   configured key, either suite, v1 or v2) and, unless already current, re-encrypted under
   `HUB_PII_KEY` in the `HUB_CRYPTO` suite, bound to its row (`row_aad(service, table, key, column)`).
2. Keyed hashes kept beside them (`HASHED_FROM`) are recomputed from the plaintext with `HUB_HASH_KEY`
   (a new hash key, or a new suite, would otherwise silently break the lookups: duplicates, repeat
   reporters, opt-outs, rate limits). Each old → new hash is remembered.
3. Hashes kept without any plaintext (opt-outs, inbound replies' senders, referral's reporter keys)
   are mapped through what steps 1–2 learnt; one no plaintext explains is counted as `unmapped`.
4. Copies inside events: every outbox row's `*_enc` fields (bound to `event_aad(type, subject,
   path)`), their `*_hash` siblings and `reporter_key` are rewritten alike.

5. The dead-letter queues' copies: hubcli/pii_dead_letters.py, with the same `event_data`.

Each row is updated only if its values are unchanged since read (a concurrent writer wins), and each
batch is one transaction, so the command can be stopped and run again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Table, and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import audit
from hub.config import ServiceName, Settings
from hub.contracts.aad import event_aad, row_aad
from hub.crypto import (
    DecryptionError,
    FieldCipher,
    HashKey,
    Suite,
    field_cipher,
    keyed_hash,
    mac_hex,
    reporter_key,
)
from hub.db import Database

ROTATION_ACTOR = ("system", "hub pii rotate")
ORDER: tuple[ServiceName, ...] = ("intake", "notification", "referral", "gateway")

# (label, done, total): called as work advances, for the command's progress bar.
Progress = Callable[[str, int, int | None], None]


def _no_progress(_label: str, _done: int, _total: int | None) -> None:
    return None


# Keyed hashes stored beside an encrypted field: (table, hash column) → how its input is found from the
# row's decrypted fields (None: no hash for this row).
HashInput = Callable[[Mapping[str, str | None], Mapping[str, Any]], str | None]
HASHED_FROM: dict[tuple[str, str], dict[str, HashInput]] = {
    ("intake", "cases"): {
        "reporter_phone_hash": lambda plain, _row: plain.get("reporter_phone_enc"),
        "reporter_id_hash": lambda plain, _row: plain.get("reporter_id_enc"),
    },
    # The key persons registry (重点人员, issue 18): matched to cases by these hashes.
    ("intake", "key_persons"): {
        "phone_hash": lambda plain, _row: plain.get("phone_enc"),
        "id_hash": lambda plain, _row: plain.get("id_enc"),
    },
    ("notification", "contacts"): {"phone_hash": lambda plain, _row: plain.get("phone_enc")},
    ("notification", "deliveries"): {
        "recipient_hash": lambda plain, row: (
            f"webhook:{row['department']}"
            if row.get("recipient_kind") == "department_webhook"
            else plain.get("recipient_enc")
        )
    },
}
# Phone hashes kept without the phone: (table, column), mapped old → new.
PHONE_HASH_ONLY: dict[ServiceName, tuple[tuple[str, str], ...]] = {
    "notification": (("opt_outs", "phone_hash"), ("inbound_replies", "phone_hash")),
}
# Reporter keys (hub.crypto.reporter_key) kept by referral, mapped old → new.
REPORTER_KEYS: dict[ServiceName, tuple[tuple[str, str], ...]] = {
    "referral": (("signal_sightings", "reporter_key"), ("tasks", "reporter_key")),
}


@dataclass
class TableRotation:
    table: str
    columns: list[str]
    rows: int = 0  # rows changed
    values: int = 0  # fields re-encrypted
    undecryptable: int = 0  # fields no key in the ring opens (or not this row's value)
    hashes: int = 0  # keyed hashes recomputed or mapped
    unmapped: int = 0  # hashes kept without plaintext that nothing rotated explains


@dataclass
class ServiceRotation:
    service: str
    tables: list[TableRotation] = field(default_factory=list)

    @property
    def undecryptable(self) -> int:
        return sum(t.undecryptable for t in self.tables)

    @property
    def unmapped(self) -> int:
        return sum(t.unmapped for t in self.tables)


@dataclass
class Learnt:
    """Old → new keyed hashes seen while rotating, for the hashes kept without plaintext."""

    phone_hashes: dict[str, str] = field(default_factory=dict)
    reporter_keys: dict[str, str] = field(default_factory=dict)


class Rotation:
    def __init__(self, settings: Settings, *, dry_run: bool, batch: int, progress: Progress) -> None:
        self.settings = settings
        self.cipher: FieldCipher = field_cipher(settings)
        self.hash_key = settings.hash_key
        self.dry_run = dry_run
        self.batch = batch
        self.progress = progress
        self.learnt = Learnt()

    # --- the old keys a stored reporter key may have been made with --------------------------------

    def _old_reporter_keys(self, old_phone_hash: str) -> list[str]:
        key = self.hash_key
        secrets = [str(key), *(key.older.values() if isinstance(key, HashKey) else ())]
        return [
            mac_hex(suite, secret, f"reporter-key:{old_phone_hash}".encode())[:16]
            for secret in secrets
            for suite in Suite
        ]

    def _learn_phone(self, old_hash: str | None, new_hash: str) -> None:
        if not old_hash or old_hash == new_hash:
            return
        self.learnt.phone_hashes[old_hash] = new_hash
        new_key = reporter_key(self.hash_key, new_hash) or ""
        for old_key in self._old_reporter_keys(old_hash):
            if old_key != new_key:
                self.learnt.reporter_keys[old_key] = new_key

    # --- encrypted fields and the hashes beside them ------------------------------------------------

    async def fields(
        self, db: Database, service: ServiceName, table: Table, columns: list[str]
    ) -> TableRotation:
        stats = TableRotation(table.name, columns)
        pk = next(iter(table.primary_key.columns))
        hashed = {c: f for c, f in HASHED_FROM.get((service, table.name), {}).items() if c in table.c}
        extra = [table.c[c] for c in ("department", "recipient_kind", "dedup_key") if c in table.c and hashed]
        wanted = [pk, *(table.c[c] for c in columns), *(table.c[c] for c in hashed), *extra]
        total = await _count(db, table)
        last: Any = None
        done = 0
        while True:
            query = select(*wanted).order_by(pk).limit(self.batch)
            if last is not None:
                query = query.where(pk > last)
            async with db.transaction() as session:
                rows = [dict(r._mapping) for r in await session.execute(query)]
                for row in rows:
                    await self._row(session, service, table, pk, columns, hashed, row, stats)
            done += len(rows)
            self.progress(f"{service}.{table.name}", done, total)
            if len(rows) < self.batch:
                return stats
            last = rows[-1][pk.name]

    async def _row(
        self,
        session: Any,
        service: ServiceName,
        table: Table,
        pk: Any,
        columns: list[str],
        hashed: dict[str, HashInput],
        row: Mapping[str, Any],
        stats: TableRotation,
    ) -> None:
        row_id = row[pk.name]
        plain: dict[str, str | None] = {}
        new_values: dict[str, str] = {}
        guards = [pk == row_id]
        opened_all = True
        for name in columns:
            token = row[name]
            if token is None or token == "":
                continue
            aad = row_aad(service, table.name, row_id, name)
            try:
                plain[name] = self.cipher.decrypt(token, aad=aad)
            except DecryptionError:
                stats.undecryptable += 1
                opened_all = False
                continue
            if self.cipher.needs_rotation(token):
                new_values[name] = self.cipher.encrypt(plain[name], aad=aad) or ""
                guards.append(table.c[name] == token)  # unchanged since read, or leave it be
        values, hashes = len(new_values), 0
        for column, source in hashed.items():
            if not opened_all:
                break
            text = source(plain, row)
            if text is None:
                continue
            new_hash = keyed_hash(self.hash_key, text)
            if column.endswith("phone_hash") or column == "recipient_hash":
                self._learn_phone(row[column], new_hash)
            if row[column] != new_hash:
                new_values[column] = new_hash
                hashes += 1
                guards.append(table.c[column] == row[column])
                dedup = row.get("dedup_key")
                if dedup and row[column] and f":{row[column]}:" in dedup:  # a delivery's once-only key
                    new_values["dedup_key"] = dedup.replace(f":{row[column]}:", f":{new_hash}:")
        if not new_values:
            return
        stats.rows += 1
        stats.values += values
        stats.hashes += hashes
        if not self.dry_run:
            await session.execute(update(table).where(and_(*guards)).values(**new_values))

    # --- hashes kept without plaintext ---------------------------------------------------------------

    async def mapped(self, db: Database, table: Table, column: str, mapping: dict[str, str]) -> TableRotation:
        """Replace each old hash by the new one; one nothing explains is counted (it may already be new)."""
        stats = TableRotation(table.name, [column])
        col = table.c[column]
        current = set(mapping.values())
        async with db.transaction() as session:
            found = [r[0] for r in await session.execute(select(col).where(col.is_not(None)).distinct())]
            for old in found:
                new = mapping.get(old)
                if new is None:
                    stats.unmapped += 0 if old in current else 1
                    continue
                stats.hashes += 1
                if self.dry_run:
                    continue
                pk_is_it = [c.name for c in table.primary_key.columns] == [column]
                if pk_is_it and (await session.execute(select(col).where(col == new))).first():
                    await session.execute(delete(table).where(col == old))  # already there under the new
                else:
                    await session.execute(update(table).where(col == old).values({column: new}))
                if table.name == "tasks" and column == "reporter_key":
                    await _retarget_tasks(session, table, old, new)
        self.progress(table.name, len(found), len(found))
        return stats

    # --- copies inside events --------------------------------------------------------------------

    async def outbox(
        self, db: Database, table: Table, type_column: str = "type", subject_column: str = "subject"
    ) -> TableRotation:
        """Event bodies kept in a table: the outbox, and the dead-letter store (its event type and
        subject under other column names; a body that is not an event has nothing to rotate)."""
        stats = TableRotation(table.name, ["body"])
        total = await _count(db, table)
        last: Any = None
        done = 0
        while True:
            query = select(
                table.c.id,
                table.c[type_column].label("type"),
                table.c[subject_column].label("subject"),
                table.c.body,
            ).order_by(table.c.id)
            query = query.limit(self.batch)
            if last is not None:
                query = query.where(table.c.id > last)
            async with db.transaction() as session:
                rows = list(await session.execute(query))
                for row in rows:
                    try:
                        body = json.loads(row.body)
                    except ValueError:
                        continue
                    data = body.get("data") if isinstance(body, dict) and row.type else None
                    if not isinstance(data, dict):
                        continue
                    before = (stats.values, stats.hashes)
                    self.event_data(row.type, row.subject, data, "", stats)
                    if (stats.values, stats.hashes) == before:
                        continue
                    stats.rows += 1
                    if not self.dry_run:
                        await session.execute(
                            update(table)
                            .where(table.c.id == row.id, table.c.body == row.body)
                            .values(body=json.dumps(body, ensure_ascii=False))
                        )
            done += len(rows)
            self.progress(f"{table.name}", done, total)
            if len(rows) < self.batch:
                return stats
            last = rows[-1].id

    def event_data(
        self, type_: str, subject: str | None, data: dict[str, Any], at: str, stats: TableRotation
    ) -> None:
        for name in list(data):
            value = data[name]
            path = f"{at}{name}"
            if isinstance(value, dict):
                self.event_data(type_, subject, value, f"{path}.", stats)
            elif name == "reporter_key" and isinstance(value, str) and value in self.learnt.reporter_keys:
                data[name] = self.learnt.reporter_keys[value]
                stats.hashes += 1
            elif name.endswith("_enc") and isinstance(value, str) and value:
                aad = event_aad(type_, subject, path)
                try:
                    plaintext = self.cipher.decrypt(value, aad=aad)
                except DecryptionError:
                    stats.undecryptable += 1
                    continue
                if self.cipher.needs_rotation(value):
                    data[name] = self.cipher.encrypt(plaintext, aad=aad)
                    stats.values += 1
                sibling = f"{name[: -len('_enc')]}_hash"
                if plaintext and isinstance(data.get(sibling), str):
                    new_hash = keyed_hash(self.hash_key, plaintext)
                    if data[sibling] != new_hash:
                        self._learn_phone(data[sibling], new_hash)
                        data[sibling] = new_hash
                        stats.hashes += 1


async def _retarget_tasks(session: Any, table: Table, old: str, new: str) -> None:
    """A repeat-reporter task's signal and dedup keys name the reporter key too."""
    await session.execute(
        update(table).where(table.c.signal_key == f"reporter:{old}").values(signal_key=f"reporter:{new}")
    )
    rows = await session.execute(
        select(table.c.id, table.c.dedup_key).where(table.c.dedup_key.startswith(f"reporter:{old}@"))
    )
    for task_id, dedup in list(rows):
        fresh = f"reporter:{new}@{dedup.split('@', 1)[1]}"
        await session.execute(update(table).where(table.c.id == task_id).values(dedup_key=fresh))


async def _count(db: Database, table: Table) -> int:
    async with db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar() or 0)


def _encrypted_tables(metadata: MetaData) -> list[tuple[Table, list[str]]]:
    """Tables with encrypted fields: by the hub's convention, columns named `*_enc`."""
    found = []
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.columns if c.name.endswith("_enc")]
        if columns and len(table.primary_key.columns) == 1:
            found.append((table, columns))
    return found


async def rotate_database(rotation: Rotation, service: ServiceName, engine: AsyncEngine) -> ServiceRotation:
    report = ServiceRotation(service)
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: metadata.reflect(sync))
    db = Database(engine)
    for table, columns in _encrypted_tables(metadata):
        report.tables.append(await rotation.fields(db, service, table, columns))
    for name, column in PHONE_HASH_ONLY.get(service, ()):
        if name in metadata.tables:
            report.tables.append(
                await rotation.mapped(db, metadata.tables[name], column, rotation.learnt.phone_hashes)
            )
    for name, column in REPORTER_KEYS.get(service, ()):
        if name in metadata.tables:
            report.tables.append(
                await rotation.mapped(db, metadata.tables[name], column, rotation.learnt.reporter_keys)
            )
    if "outbox" in metadata.tables:
        report.tables.append(await rotation.outbox(db, metadata.tables["outbox"]))
    if "dead_letter_store" in metadata.tables:  # dead letters drained from the `.dlq` queues (issue 16)
        report.tables.append(
            await rotation.outbox(db, metadata.tables["dead_letter_store"], "event_type", "case_no")
        )
    changed = [t for t in report.tables if t.values or t.hashes or t.undecryptable or t.unmapped]
    if changed and not rotation.dry_run and audit.TABLE_NAME in metadata.tables:
        async with db.transaction() as session:
            await audit.append(
                session,
                audit.define_audit_table(MetaData()),
                key=rotation.settings.hash_key,
                actor_role=ROTATION_ACTOR[0],
                actor_id=ROTATION_ACTOR[1],
                actor_kind="system",
                action="pii.rotated",
                case_no=None,
                detail={
                    "suite": rotation.settings.crypto.value,
                    "hash_key_version": rotation.settings.hash_key_version,
                    "tables": {
                        t.table: {
                            "rows": t.rows,
                            "values": t.values,
                            "hashes": t.hashes,
                            "undecryptable": t.undecryptable,
                            "unmapped": t.unmapped,
                        }
                        for t in changed
                    },
                },
            )
    return report
