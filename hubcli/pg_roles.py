"""One PostgreSQL login role per process, each owning its own schema and nothing else
(`hub setup postgres-roles`, docs/decisions/0014-least-privilege-deploy.md).

Owner pattern: role hub_<service> owns schema <service> and every object in it, so it runs its own
migrations (`hub migrate` with HUB_<SERVICE>_DATABASE_URL) and needs no grant per table. It holds no
privilege on the other schemas; the database's PUBLIC grants (CONNECT, TEMPORARY) and CREATE on schema
public are revoked, and each role is granted CONNECT on this database alone.

Idempotent: an existing role keeps its password unless one is given (PG_PASSWORD_<ROLE>) or a new one
is asked for (rotate); schemas, ownership and grants are only brought to the state above. Schemas made
before the roles existed (by the shared administrator) are handed over to their role with their tables.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from hub.config import SERVICES, ServiceName

# Relation kinds a schema's owner should own too (tables by default; indexes follow their table).
_ALTER_KIND = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}


@dataclass(frozen=True)
class RoleOutcome:
    service: ServiceName
    role: str
    created: bool
    password: str | None  # set now (created or rotated); None: unchanged
    changes: tuple[str, ...]


def role_name(service: ServiceName, prefix: str = "hub_") -> str:
    return f"{prefix}{service}"


def password_variable(role: str) -> str:
    """Where the set-up reads a role's password from, instead of generating one."""
    return f"PG_PASSWORD_{role.upper()}"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def service_url(admin_url: str, role: str, password: str) -> str:
    """The admin URL with the role's credentials: what the service's HUB_DATABASE_URL should be (the
    host may differ from where the services reach the database)."""
    parts = urlsplit(admin_url)
    host = parts.hostname or "localhost"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(("postgresql", netloc, parts.path, "", ""))


async def ensure_roles(
    admin_url: str,
    *,
    services: tuple[ServiceName, ...] = SERVICES,
    prefix: str = "hub_",
    rotate: bool = False,
    environ: dict[str, str] | None = None,
) -> list[RoleOutcome]:
    environ = dict(os.environ) if environ is None else environ
    conn = await asyncpg.connect(admin_url)
    try:
        database: str = await conn.fetchval("SELECT current_database()")
        outcomes = [
            await _ensure_one(conn, database, service, role_name(service, prefix), rotate, environ)
            for service in services
        ]
        # Nobody but the roles granted CONNECT reaches this database, nobody creates in schema public.
        # Checked first so a second run does (and reports) nothing.
        if await conn.fetchval(
            "SELECT has_database_privilege('public', current_database(), 'CONNECT')"
            " OR has_database_privilege('public', current_database(), 'TEMPORARY')"
        ):
            await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
        if await conn.fetchval("SELECT has_schema_privilege('public', 'public', 'CREATE')"):
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        return outcomes
    finally:
        await conn.close()


async def _ensure_one(
    conn: asyncpg.Connection,
    database: str,
    service: ServiceName,
    role: str,
    rotate: bool,
    environ: dict[str, str],
) -> RoleOutcome:
    changes: list[str] = []
    given = environ.get(password_variable(role))
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT"
    existing = await conn.fetchrow(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
        " rolinherit FROM pg_roles WHERE rolname = $1",
        role,
    )
    password: str | None = None
    if existing is None:
        password = given or secrets.token_urlsafe(24)
        await conn.execute(f"CREATE ROLE {_ident(role)} {attributes} PASSWORD {_literal(password)}")
        changes.append("role created")
    else:
        if tuple(existing) != (True, False, False, False, False, False, False):
            await conn.execute(f"ALTER ROLE {_ident(role)} {attributes}")
            changes.append("role attributes reset")
        if given or rotate:
            password = given or secrets.token_urlsafe(24)
            await conn.execute(f"ALTER ROLE {_ident(role)} PASSWORD {_literal(password)}")
            changes.append("password set")
    # Its own grant, not PUBLIC's (revoked below).
    if not await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a"
        " WHERE d.datname = current_database() AND a.privilege_type = 'CONNECT'"
        " AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = $1))",
        role,
    ):
        await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {_ident(role)}")
        changes.append("connect granted")
    owner = await conn.fetchval(
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1", service
    )
    if owner is None:
        await conn.execute(f"CREATE SCHEMA {_ident(service)} AUTHORIZATION {_ident(role)}")
        changes.append("schema created")
    elif owner != role:
        await conn.execute(f"ALTER SCHEMA {_ident(service)} OWNER TO {_ident(role)}")
        changes.append(f"schema taken over from {owner}")
    # Objects made in the schema before the role existed (a deployment moving to per-service roles).
    # Tables first: a sequence a table's column owns follows its table and cannot be moved alone.
    handed = 0
    for kinds in (("r", "p", "v", "m", "f"), ("S",)):
        foreign = await conn.fetch(
            "SELECT c.relname, c.relkind::text AS relkind FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1"
            " AND c.relkind::text = ANY($2::text[]) AND pg_get_userbyid(c.relowner) <> $3",
            service,
            list(kinds),
            role,
        )
        for row in foreign:
            kind = _ALTER_KIND.get(row["relkind"], "TABLE")
            name = f"{_ident(service)}.{_ident(row['relname'])}"
            await conn.execute(f"ALTER {kind} {name} OWNER TO {_ident(role)}")
        handed += len(foreign)
    if handed:
        changes.append(f"{handed} relation(s) handed over")
    # The schema's privileges: its owner's only (grants to PUBLIC or other roles are removed).
    acl = await conn.fetchval("SELECT nspacl::text[] FROM pg_namespace WHERE nspname = $1", service)
    others = [entry for entry in acl or [] if not entry.startswith(f"{role}=")]
    if others:
        await conn.execute(f"REVOKE ALL ON SCHEMA {_ident(service)} FROM PUBLIC")
        for entry in others:
            grantee = entry.split("=", 1)[0]
            if grantee:
                await conn.execute(
                    f"REVOKE ALL ON SCHEMA {_ident(service)} FROM {_ident(grantee.strip(chr(34)))}"
                )
        changes.append("other grants on the schema revoked")
    return RoleOutcome(service, role, existing is None, password, tuple(changes))
