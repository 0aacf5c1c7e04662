"""`hub setup postgres-roles` on a real PostgreSQL: one role per process, its own schema only.

Roles are cluster-wide, so each test names them with a random prefix and drops them at the end (after
the fresh database that holds their objects and grants is gone)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from typer.testing import CliRunner

from hub.config import SERVICES, Settings
from hubcli.main import app
from hubcli.pg_roles import ensure_roles, service_url
from hubcli.services import migrate_all
from tests.kit.infra import _pg_admin_url, fresh_pg_database


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    name = f"hubtest_{uuid.uuid4().hex[:8]}_"
    yield name
    admin = await asyncpg.connect(_pg_admin_url())
    try:
        for service in SERVICES:
            await admin.execute(f'DROP ROLE IF EXISTS "{name}{service}"')
    finally:
        await admin.close()


async def _snapshot(admin_url: str, prefix: str) -> dict[str, Any]:
    """Everything the set-up decides: roles (with password hashes), grants, owners."""
    conn = await asyncpg.connect(admin_url)
    try:
        roles = await conn.fetch(
            "SELECT rolname, rolpassword, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit"
            " FROM pg_authid WHERE rolname LIKE $1 ORDER BY rolname",
            prefix + "%",
        )
        schemas = await conn.fetch(
            "SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text FROM pg_namespace"
            " WHERE nspname = ANY($1::text[]) ORDER BY nspname",
            [*SERVICES, "public"],
        )
        relations = await conn.fetch(
            "SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) AS owner, c.relacl::text"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = ANY($1::text[]) ORDER BY 1, 2",
            list(SERVICES),
        )
        database = await conn.fetchval(
            "SELECT datacl::text FROM pg_database WHERE datname = current_database()"
        )
        return {
            "roles": [dict(r) for r in roles],
            "schemas": [dict(r) for r in schemas],
            "relations": [dict(r) for r in relations],
            "database": database,
        }
    finally:
        await conn.close()


async def _as(url: str, schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(url, server_settings={"search_path": schema})


async def _check_isolation(urls: dict[str, str]) -> None:
    intake = await _as(urls["intake"], "intake")
    try:
        # Its own tables: write and read.
        await intake.execute(
            "INSERT INTO outbox (event_id, type, body, created_at) VALUES ('e-1', 'case.registered.v1', '{}', now())"
        )
        assert await intake.fetchval("SELECT count(*) FROM outbox") == 1
        assert await intake.fetchval("SELECT count(*) FROM cases") == 0
        # Another service's tables: refused, whether named by schema or reached some other way.
        for table in ("referral.cases", "referral.outbox", "notification.deliveries", "gateway.outbox"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await intake.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        # No new schemas, nothing in schema public.
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("CREATE SCHEMA sneaky")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await intake.execute("CREATE TABLE public.sneaky (id int)")
    finally:
        await intake.close()
    referral = await _as(urls["referral"], "referral")
    try:
        assert await referral.fetchval("SELECT count(*) FROM cases") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await referral.fetchval("SELECT count(*) FROM intake.outbox")
    finally:
        await referral.close()


async def test_each_service_role_owns_its_schema_migrates_it_and_reaches_no_other(
    prefix: str, tmp_path: Path
) -> None:
    async with fresh_pg_database() as admin_url:
        first = await ensure_roles(admin_url, prefix=prefix, environ={})
        assert [o.created for o in first] == [True] * 4
        assert all(o.password for o in first)
        urls = {o.service: service_url(admin_url, o.role, str(o.password)) for o in first}

        # `hub migrate` with each service's own URL: every schema migrated by its owner, twice.
        settings = Settings(data_dir=tmp_path, **{f"{s}_database_url": urls[s] for s in SERVICES})  # type: ignore[arg-type]
        await asyncio.to_thread(migrate_all, settings)
        await asyncio.to_thread(migrate_all, settings)
        before = await _snapshot(admin_url, prefix)
        assert {s["nspname"]: s["owner"] for s in before["schemas"] if s["nspname"] != "public"} == {
            s: f"{prefix}{s}" for s in SERVICES
        }
        assert all(r["owner"] == f"{prefix}{r['nspname']}" for r in before["relations"])

        await _check_isolation(urls)

        # Twice changes nothing: no password, no grant, no owner moves (and the command says so).
        second = await ensure_roles(admin_url, prefix=prefix, environ={})
        assert [(o.created, o.password, o.changes) for o in second] == [(False, None, ())] * 4
        argv = ["setup", "postgres-roles", "--admin-url", admin_url, "--prefix", prefix]
        result = await asyncio.to_thread(CliRunner().invoke, app, argv)
        assert result.exit_code == 0, result.output
        assert result.output.count(": unchanged") == 4 and "DATABASE_URL" not in result.output
        assert await _snapshot(admin_url, prefix) == before

        # A password given in the environment is set (rotation); the others stay as they were.
        rotated = await ensure_roles(
            admin_url, prefix=prefix, environ={f"PG_PASSWORD_{prefix.upper()}INTAKE": "new-secret"}
        )
        assert [o.password for o in rotated] == [None, "new-secret", None, None]
        after = await _snapshot(admin_url, prefix)
        changed = [a["rolname"] for a, b in zip(after["roles"], before["roles"], strict=True) if a != b]
        assert changed == [f"{prefix}intake"]


async def test_schemas_made_by_the_shared_administrator_are_handed_over_to_their_roles(
    prefix: str, tmp_path: Path
) -> None:
    """A deployment moving from one shared user to per-service roles keeps its tables."""
    async with fresh_pg_database() as admin_url:
        await asyncio.to_thread(migrate_all, Settings(data_dir=tmp_path, database_url=admin_url))  # type: ignore[call-arg]
        outcomes = await ensure_roles(admin_url, prefix=prefix, environ={})
        assert all("schema taken over from postgres" in o.changes for o in outcomes)
        urls = {o.service: service_url(admin_url, o.role, str(o.password)) for o in outcomes}
        await _check_isolation(urls)
        # Later migrations run as the new owners.
        settings = Settings(data_dir=tmp_path, **{f"{s}_database_url": urls[s] for s in SERVICES})  # type: ignore[arg-type]
        await asyncio.to_thread(migrate_all, settings)
        again = await ensure_roles(admin_url, prefix=prefix, environ={})
        assert [o.changes for o in again] == [()] * 4
