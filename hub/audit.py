"""Append-only, hash-chained audit log (ARCHITECTURE.md "Personal data (PIPL) and audit").

Every service that changes state or reads personal data adds `define_audit_table(metadata)` to its
own metadata and calls `append(...)` inside the transaction of the change, so the entry commits (or
rolls back) with it. Each entry carries

    hash = HMAC(key of version v, "hub-audit-v1" \\n prev_hash \\n canonical JSON of the entry)

where the entry is (at, actor_role, actor_id, action, case_no, detail), prev_hash is the hash of
the entry before it (64 zeros for the first), the HMAC is HMAC-SHA256 or HMAC-SM3 (`HUB_CRYPTO`), and
each row records which: `key_version` and `mac`. `verify(rows, key)` walks the chain in `seq` order
and names the first entry that was changed, removed or moved.

Versioned chain keys (docs/cryptography.md "Rotation"): the key passed in is `settings.hash_key`, a
`hub.crypto.HashKey` that carries its suite, its version (`HUB_HASH_KEY_VERSION`) and the retired
versions (`HUB_HASH_OLD_KEYS`, "version:key"). Appending uses the current version; verifying uses
each row's own version. Rotating the hash key therefore starts a new segment of the same chain (the
first entry under the new key links to the last one under the old) without rewriting history, as
long as the old version stays configured for verification. Versions never go back along the chain:
an entry under a retired version after a newer one is reported (a leaked old key cannot extend the
log). A plain `str` key means version 1, HMAC-SHA256 (entries from before versions).

Who acted: `actor_kind` is user (a named person: `actor_id` their user id, `actor_name` their display
name), client (an API client) or system (an external system through its adapter, or the hub's own
work); both are in the hashed entry when set (NULL in entries written before, which hash as they
always did). A display name is staff's personal data: in the audit log for the audit, never in logs,
spans or metric labels.

Design notes:
- `seq` is the position; it is checked through the links (prev_hash) and the no-gap rule, and is
  deliberately *not* inside the MAC, so a genuine entry that was moved can be told apart from an
  altered one.
- Appends are serialised so concurrent writers cannot fork the chain: on PostgreSQL the last entry
  is locked (SELECT … FOR UPDATE, re-checked after the wait because a READ COMMITTED lock returns
  the row the statement first saw) and the insert runs in a savepoint that is retried if another
  writer took the same seq (only possible while the table is empty: nothing to lock yet). On SQLite
  the hub's write transaction is already exclusive (BEGIN IMMEDIATE).
- Call `append` last in a transaction: the tail lock is then held only until commit, and every
  transaction takes its other row locks before it, in the same order.
- `detail` is JSON of codes and states only, never plaintext personal data; callers redact free text.
- A chain cannot show that its newest entries were cut off; `hub audit verify` prints the head
  (seq and hash) so operators can record it elsewhere and compare.
- The migration that creates the table should also install `append_only_ddl(dialect)`: triggers
  that refuse UPDATE and DELETE, so the application cannot rewrite history by mistake; the chain is
  what catches someone who can drop the triggers.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.crypto import MAC_NAMES, Suite, mac_hex, suite_of_key, suite_of_mac, version_of_key
from hub.utc import UtcDateTime

GENESIS = "0" * 64
TABLE_NAME = "audit_log"
_DOMAIN = b"hub-audit-v1"
_MAX_ATTEMPTS = 50

# seq is assigned by `append` (last + 1), never by the database: the chain decides the order.
_Seq = BigInteger().with_variant(Integer(), "sqlite")


def define_audit_table(metadata: MetaData) -> Table:
    return Table(
        TABLE_NAME,
        metadata,
        Column("seq", _Seq, primary_key=True, autoincrement=False),
        Column("at", UtcDateTime(), nullable=False),
        Column("actor_role", String(16), nullable=False),
        Column("actor_id", String(64)),
        Column("actor_kind", String(8)),  # user | client | system (NULL: written before it was kept)
        Column("actor_name", String(100)),  # a person's display name (audit only)
        Column("action", String(64), nullable=False),
        Column("case_no", String(32)),
        Column("detail", JSON, nullable=False),
        Column("prev_hash", String(64), nullable=False),
        Column("hash", String(64), nullable=False, unique=True),
        # Which chain key made `hash` (versioned chain keys: rotation starts a new segment).
        Column("key_version", Integer, nullable=False, server_default="1"),
        Column("mac", String(16), nullable=False, server_default=MAC_NAMES[Suite.international]),
        Index("ix_audit_log_case_no", "case_no"),
    )


def append_only_ddl(dialect: str, table: str = TABLE_NAME) -> list[str]:
    """Statements (for a migration) that make the table refuse UPDATE, DELETE (and TRUNCATE)."""
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()",
        ]
    return [
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
    ]


def drop_append_only_ddl(dialect: str, table: str = TABLE_NAME) -> list[str]:
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_append_only()",
        ]
    return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]


# --- hashing -------------------------------------------------------------------------------------


def json_safe(detail: Mapping[str, Any]) -> dict[str, Any]:
    """Detail as plain JSON values (what the database hands back), so the hash survives a round trip."""
    out: dict[str, Any] = json.loads(json.dumps(dict(detail), default=str, ensure_ascii=False))
    return out


def canonical(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _at_text(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed part of an entry (everything but seq and the hashes). Who acted (kind, name) is
    hashed when it is set, so entries written before it was kept verify exactly as before."""
    entry = {
        "at": _at_text(row["at"]),
        "actor_role": row["actor_role"],
        "actor_id": row["actor_id"],
        "action": row["action"],
        "case_no": row["case_no"],
        "detail": row["detail"],
    }
    for key in ("actor_kind", "actor_name"):
        value = row.get(key)
        if value is not None:
            entry[key] = value
    return entry


def chain_hash(key: str, prev_hash: str, entry: Mapping[str, Any], suite: Suite | None = None) -> str:
    """The entry's MAC under `key` (in the key's own suite unless `suite` says otherwise)."""
    message = b"\n".join((_DOMAIN, prev_hash.encode("ascii"), canonical(entry).encode("utf-8")))
    return mac_hex(suite or suite_of_key(key), key, message)


def _row_key(key: str, row: Mapping[str, Any]) -> tuple[str | None, Suite, int]:
    """The key text, suite and version a stored entry was chained with (None: version not configured)."""
    version = int(row.get("key_version") or 1)
    suite = suite_of_mac(str(row.get("mac") or MAC_NAMES[Suite.international]))
    secret_of = getattr(key, "secret_of", None)
    secret = secret_of(version) if secret_of else (key if version == 1 else None)
    return secret, suite, version


# --- appending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    hash: str


async def append(
    session: AsyncSession,
    table: Table,
    *,
    key: str,
    actor_role: str,
    actor_id: str | None,
    action: str,
    case_no: str | None,
    detail: Mapping[str, Any],
    at: datetime | None = None,
    actor_kind: str | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Add one entry to the chain inside the caller's transaction (call it last in the transaction)."""
    values = {
        "at": (at or datetime.now(UTC)).astimezone(UTC),
        "actor_role": actor_role,
        "actor_id": actor_id,
        "actor_kind": actor_kind,
        "actor_name": actor_name[:100] if actor_name else None,
        "action": action,
        "case_no": case_no,
        "detail": json_safe(detail),
    }
    entry = entry_of(values)
    postgres = session.bind.dialect.name == "postgresql" if session.bind else False
    for _attempt in range(_MAX_ATTEMPTS):
        tail = await _lock_tail(session, table, postgres)
        seq = tail[0] + 1 if tail else 1
        prev_hash = tail[1] if tail else GENESIS
        digest = chain_hash(key, prev_hash, entry)
        insert = table.insert().values(
            seq=seq,
            prev_hash=prev_hash,
            hash=digest,
            key_version=version_of_key(key),
            mac=MAC_NAMES[suite_of_key(key)],
            **values,
        )
        if not postgres:
            await session.execute(insert)
            return AuditEntry(seq, digest)
        try:
            async with session.begin_nested():
                await session.execute(insert)
        except IntegrityError:
            continue  # another writer appended seq first (empty table): read the new tail, try again
        return AuditEntry(seq, digest)
    raise RuntimeError("audit log: could not append after repeated contention")


async def _lock_tail(session: AsyncSession, table: Table, postgres: bool) -> tuple[int, str] | None:
    last_stmt = select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
    while True:
        last = (await session.execute(last_stmt.with_for_update() if postgres else last_stmt)).first()
        if not postgres:
            return (int(last.seq), str(last.hash)) if last else None
        # The lock may have been granted after another writer committed a newer entry: the row we
        # hold is then not the tail any more. A fresh statement sees the newer entry; lock that one.
        newest = (await session.execute(select(func.max(table.c.seq)))).scalar()
        if newest == (last.seq if last else None):
            return (int(last.seq), str(last.hash)) if last else None


# --- verifying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""
    checked: int = 0
    head_seq: int | None = None
    head_hash: str | None = None
    # (key version, MAC, first seq) of each segment of the chain, oldest first
    segments: tuple[tuple[int, str, int], ...] = ()


def _as_mapping(row: Any) -> Mapping[str, Any]:
    if isinstance(row, Mapping):
        return row
    mapping: Mapping[str, Any] | None = getattr(row, "_mapping", None)  # a SQLAlchemy Row
    if mapping is not None:
        return mapping
    raise TypeError("audit rows must be mappings or SQLAlchemy rows")


def verify(rows: Iterable[Any], key: str) -> VerifyResult:
    """Walk the chain in the given order (seq ascending) and report the first entry that is wrong.

    - changed: an entry whose content no longer matches its hash;
    - removed: a gap in seq (or a genuine entry whose predecessor is gone);
    - reordered: a genuine entry that does not follow its original predecessor (which is found
      later in the log), or rows handed over out of seq order.
    """
    iterator: Iterator[Mapping[str, Any]] = (_as_mapping(r) for r in rows)
    prev_seq = 0
    prev_hash = GENESIS
    checked = 0
    segments: list[tuple[int, str, int]] = []
    for row in iterator:
        seq = int(row["seq"])
        secret, suite, version = _row_key(key, row)
        if secret is None:
            return _bad(
                seq,
                f"entry {seq} was chained with hash key version {version}, which is not configured "
                "(keep retired keys in HUB_HASH_OLD_KEYS as version:key)",
                checked,
            )
        own_hash_ok = hmac.compare_digest(
            chain_hash(secret, str(row["prev_hash"]), entry_of(row), suite), str(row["hash"])
        )
        if seq <= prev_seq:
            return _bad(seq, f"entry {seq} is out of order (comes after entry {prev_seq})", checked)
        if seq != prev_seq + 1:
            late = next((int(r["seq"]) for r in iterator if prev_seq < int(r["seq"]) < seq), None)
            if late is not None:
                return _bad(late, f"entry {late} is out of order (comes after entry {seq})", checked)
            missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}–{seq - 1}"
            return _bad(prev_seq + 1, f"entry {missing} is missing (removed)", checked)
        if not own_hash_ok:
            return _bad(seq, f"entry {seq} was changed (its content does not match its hash)", checked)
        if row["prev_hash"] != prev_hash:
            original = str(row["prev_hash"])
            later = next((int(r["seq"]) for r in iterator if r["hash"] == original), None)
            if later is not None:
                return _bad(
                    seq,
                    f"entries were reordered: entry {seq} belongs right after entry {later}",
                    checked,
                )
            return _bad(
                seq,
                f"entry {seq} does not follow entry {prev_seq}: an entry before it was removed or replaced",
                checked,
            )
        if segments and version < segments[-1][0]:
            return _bad(
                seq,
                f"entry {seq} uses retired hash key version {version} after version {segments[-1][0]}",
                checked,
            )
        if not segments or (version, MAC_NAMES[suite]) != segments[-1][:2]:
            segments.append((version, MAC_NAMES[suite], seq))
        prev_seq, prev_hash = seq, str(row["hash"])
        checked += 1
    return VerifyResult(
        True, None, "", checked, prev_seq or None, prev_hash if prev_seq else None, tuple(segments)
    )


def _bad(seq: int, reason: str, checked: int) -> VerifyResult:
    return VerifyResult(False, seq, reason, checked)


async def read_chain(session: AsyncSession, table: Table, batch: int = 1000) -> list[Any]:
    """Every entry in seq order (callers with very large logs can page with `seq > last`)."""
    rows: list[Any] = []
    last = 0
    while True:
        page = list(
            await session.execute(select(table).where(table.c.seq > last).order_by(table.c.seq).limit(batch))
        )
        rows.extend(page)
        if len(page) < batch:
            return rows
        last = int(page[-1].seq)
