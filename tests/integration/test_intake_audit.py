"""The hash-chained audit log on real databases: concurrent writers make one chain, the database refuses
rewrites, `hub audit verify` (function and command) finds a changed, a removed and a reordered entry,
and `hub pii rotate` re-encrypts personal data under the new key (and says so in the chain)."""

from __future__ import annotations

import asyncio
import base64
import functools
import itertools
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from hub import audit
from hub.crypto import FieldCipher
from hubcli.audit import rotate_all, verify_all
from hubcli.main import app as hub_cli
from services.intake.case_columns import reporter_aad
from services.intake.tables import audit_log, cases
from tests.integration.test_intake_service import WINDOW_CASE, api, assert_chain_ok, audit_entries, register
from tests.kit.http import http_client
from tests.kit.inprocess import InProcessHub

NEW_KEY = base64.b64encode(b"n" * 16).decode()  # fits both suites (SM4 takes 128-bit keys only)


def cli_env(hub: InProcessHub, **extra: str) -> dict[str, str | None]:
    settings = hub.settings
    return {
        "HUB_DATA_DIR": str(settings.data_dir),
        "HUB_DATABASE_URL": settings.database_url,
        "HUB_AMQP_URL": settings.amqp_url,
        "HUB_HASH_KEY": settings.hash_key,
        "HUB_PII_KEY": settings.pii_key,
        "HUB_CRYPTO": settings.crypto.value,
        "COLUMNS": "250",
        **extra,
    }


async def run_cli(hub: InProcessHub, *args: str, **env: str) -> Any:
    # The command runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(CliRunner().invoke, hub_cli, list(args), env=cli_env(hub, **env))


async def seed(hub: InProcessHub, cases_count: int = 4) -> list[str]:
    numbers = [
        (await register(hub, {**WINDOW_CASE, "title": f"楼上私改公共烟道 {i}"}))["case_no"]
        for i in range(cases_count)
    ]
    await api(
        hub, "POST", f"/cases/{numbers[0]}/assessment", json={"colour": "yellow", "reason": "复核后调整"}
    )
    await api(hub, "POST", f"/cases/{numbers[-1]}/personal-data", json={"purpose": "电话联系当事人"})
    return numbers


async def tamper(hub: InProcessHub, *statements: str) -> None:
    """What someone with database access could do: drop the append-only triggers, then rewrite."""
    rt = hub.runtime("intake")
    dialect = "postgresql" if rt.db.is_postgres else "sqlite"
    async with rt.db.transaction() as session:
        for statement in [*audit.drop_append_only_ddl(dialect), *statements]:
            await session.execute(text(statement))


async def test_the_chain_of_a_working_day_verifies(hub: InProcessHub) -> None:
    await seed(hub)
    entries = await audit_entries(hub)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    reports = {r.service: r for r in await verify_all(hub.settings)}
    assert reports["intake"].present and reports["intake"].result is not None
    assert reports["intake"].result.ok and reports["intake"].result.checked == len(entries)
    assert reports["intake"].result.head_hash == entries[-1].hash
    assert reports["gateway"].present and reports["gateway"].ok  # account events (named accounts)
    assert not reports["notification"].present  # services without an audit log are skipped, not failed
    result = await run_cli(hub, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intake" in result.output and "ok" in result.output


@pytest.mark.parametrize(
    ("kind", "statements", "first_bad", "words"),
    [
        ("changed", ["UPDATE audit_log SET actor_id = 'someone-else' WHERE seq = 3"], 3, "changed"),
        ("removed", ["DELETE FROM audit_log WHERE seq = 3"], 3, "missing"),
        (
            "reordered",
            [
                "UPDATE audit_log SET seq = -1 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = -1",
            ],
            3,
            "reordered",
        ),
        ("first removed", ["DELETE FROM audit_log WHERE seq = 1"], 1, "missing"),
        (
            "removed and renumbered",
            ["DELETE FROM audit_log WHERE seq = 2", "UPDATE audit_log SET seq = 2 WHERE seq = 3"],
            2,
            "removed or replaced",
        ),
    ],
)
async def test_verify_names_the_first_tampered_entry(
    hub: InProcessHub, kind: str, statements: list[str], first_bad: int, words: str
) -> None:
    await seed(hub)
    assert len(await audit_entries(hub)) >= 5
    await tamper(hub, *statements)

    result = audit.verify(await audit_entries(hub), hub.settings.hash_key)
    assert not result.ok, kind
    assert result.first_bad_seq == first_bad and words in result.reason, result

    reports = {r.service: r for r in await verify_all(hub.settings)}
    assert not reports["intake"].ok and reports["intake"].result == result

    cli = await run_cli(hub, "audit", "verify")
    assert cli.exit_code == 1, cli.output
    assert "FAILED" in cli.output and f"{first_bad}: " in cli.output and words in cli.output


async def test_the_database_refuses_to_rewrite_the_log(hub: InProcessHub) -> None:
    await seed(hub, 1)
    rt = hub.runtime("intake")
    for statement in (
        "UPDATE audit_log SET actor_id = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with rt.db.transaction() as session:
                await session.execute(text(statement))
    assert_chain_ok(await audit_entries(hub), hub)


async def test_concurrent_writers_make_one_chain(hub: InProcessHub) -> None:
    rt = hub.runtime("intake")

    async def append(i: int) -> None:
        async with rt.db.transaction() as session:
            await audit.append(
                session,
                audit_log,
                key=rt.settings.hash_key,
                actor_role="centre",
                actor_id=f"w{i}",
                action="test.concurrent",
                case_no=None,
                detail={"i": i},
            )

    # Straight appends into an empty log (nothing to lock yet), then through the API.
    await asyncio.gather(*(append(i) for i in range(30)))
    async with http_client() as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{hub.gateway}/api/v1/cases",
                    json={**WINDOW_CASE, "title": f"并发登记 {i}", "location": {"address": f"并发小区{i}栋"}},
                    timeout=60,
                )
                for i in range(12)
            )
        )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    entries = await audit_entries(hub)
    assert len(entries) == 42
    assert sorted(e.detail["i"] for e in entries if e.action == "test.concurrent") == list(range(30))
    assert_chain_ok(entries, hub)


async def test_pii_rotate_re_encrypts_under_the_new_key(hub: InProcessHub) -> None:
    numbers = await seed(hub, 3)
    old_key = hub.settings.pii_key
    rotated_settings = hub.settings.model_copy(update={"pii_key": NEW_KEY, "pii_old_keys": (old_key,)})

    dry = {r.service: r for r in await rotate_all(rotated_settings, dry_run=True)}
    intake_cases = next(t for t in dry["intake"].tables if t.table == "cases")
    assert intake_cases.columns == ["reporter_name_enc", "reporter_phone_enc", "reporter_id_enc"]
    assert (intake_cases.rows, intake_cases.values) == (3, 9)

    cli = await run_cli(hub, "pii", "rotate", HUB_PII_KEY=NEW_KEY, HUB_PII_OLD_KEYS=f'["{old_key}"]')
    assert cli.exit_code == 0, cli.output

    only_new = FieldCipher(NEW_KEY, suite=hub.settings.crypto)
    async with hub.runtime("intake").db.sessions() as session:
        rows = (await session.execute(select(cases).where(cases.c.case_no.in_(numbers)))).all()
    assert len(rows) == 3
    for row in rows:
        aad = functools.partial(reporter_aad, row.case_no)
        assert only_new.decrypt(row.reporter_phone_enc, aad=aad("reporter_phone_enc")) == "+8613812341234"
        assert only_new.decrypt(row.reporter_name_enc, aad=aad("reporter_name_enc")) == "王女士"
        assert not only_new.needs_rotation(row.reporter_id_enc)
    entry = (await audit_entries(hub))[-1]
    assert entry.action == "pii.rotated" and entry.detail["tables"]["cases"]["values"] == 9
    assert_chain_ok(await audit_entries(hub), hub)

    again = {r.service: r for r in await rotate_all(rotated_settings.model_copy(update={"pii_old_keys": ()}))}
    assert all(t.values == 0 and t.undecryptable == 0 for r in again.values() for t in r.tables)
