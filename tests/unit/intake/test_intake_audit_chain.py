"""hub.audit's chain without a database: hashing, and what `verify` says about each kind of tampering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hub import audit

KEY = "unit-test-hash-key"
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def chain(n: int, key: str = KEY) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    prev = audit.GENESIS
    for i in range(1, n + 1):
        row: dict[str, Any] = {
            "seq": i,
            "at": T0 + timedelta(seconds=i, microseconds=123),
            "actor_role": "centre",
            "actor_id": f"u{i}",
            "action": "case.registered",
            "case_no": f"ZZ-20261122-{i:06d}",
            "detail": audit.json_safe({"colour": "blue", "n": i, "reason": "同一事项"}),
        }
        row["prev_hash"] = prev
        row["hash"] = audit.chain_hash(key, prev, audit.entry_of(row))
        prev = row["hash"]
        rows.append(row)
    return rows


def test_an_untouched_chain_verifies_and_reports_its_head() -> None:
    rows = chain(5)
    result = audit.verify(rows, KEY)
    assert result == audit.VerifyResult(True, None, "", 5, 5, rows[-1]["hash"], ((1, "hmac-sha256", 1),))
    assert audit.verify([], KEY).ok


def test_the_hash_is_keyed_and_covers_every_field_but_the_position() -> None:
    rows = chain(2)
    assert not audit.verify(rows, "another key").ok
    for field, value in [
        ("actor_role", "ops"),
        ("actor_id", "x"),
        ("action", "personal_data.read"),
        ("case_no", "ZZ-20261122-000009"),
        ("detail", {"colour": "red", "n": 2, "reason": "同一事项"}),
        ("at", T0),
        ("prev_hash", "f" * 64),
    ]:
        changed = [dict(r) for r in rows]
        changed[1][field] = value
        result = audit.verify(changed, KEY)
        assert (result.ok, result.first_bad_seq) == (False, 2), field
        assert "changed" in result.reason


def test_detail_and_times_survive_a_database_round_trip() -> None:
    # JSON comes back with keys in any order, times as aware UTC: the hash must not care.
    row = chain(1)[0]
    reloaded = dict(row, detail=dict(reversed(list(row["detail"].items()))))
    reloaded["at"] = row["at"].astimezone(audit.UTC).replace(tzinfo=None)  # SQLite hands back naive UTC
    assert audit.verify([reloaded], KEY).ok


def test_a_removed_entry_is_named() -> None:
    rows = chain(5)
    result = audit.verify(rows[:2] + rows[3:], KEY)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 3, 2)
    assert "entry 3 is missing" in result.reason
    assert audit.verify(rows[1:], KEY).first_bad_seq == 1
    assert "2–3" in audit.verify(rows[:1] + rows[3:], KEY).reason


def test_reordered_entries_are_told_apart_from_changed_ones() -> None:
    rows = chain(5)
    swapped = [dict(r) for r in rows]
    swapped[2]["seq"], swapped[3]["seq"] = 4, 3
    swapped.sort(key=lambda r: r["seq"])
    result = audit.verify(swapped, KEY)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "reordered" in result.reason and "after entry 4" in result.reason
    # Rows handed over out of order (not sorted by seq) are refused as such.
    assert "out of order" in audit.verify([rows[0], rows[2], rows[1]], KEY).reason


def test_a_removed_entry_hidden_by_renumbering_is_still_found() -> None:
    rows = chain(4)
    renumbered = [rows[0], dict(rows[2], seq=2), dict(rows[3], seq=3)]
    result = audit.verify(renumbered, KEY)
    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert "removed or replaced" in result.reason


def test_append_only_ddl_names_both_dialects() -> None:
    assert any("BEFORE UPDATE OR DELETE" in s for s in audit.append_only_ddl("postgresql"))
    assert any("RAISE(ABORT" in s for s in audit.append_only_ddl("sqlite"))
    assert len(audit.drop_append_only_ddl("sqlite")) == 2
