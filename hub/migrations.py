"""Alembic per service, run by the kit: each service keeps its scripts (env.py, versions/) in its own
`migrations` package and passes where they are (`services/<name>/migrations`, `gateway/migrations`:
each offers `migrate(settings)`); the kit knows no service by name.

On PostgreSQL each service migrates its own schema (created here), so version tables never collide.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from hub.config import ServiceName, Settings
from hub.db import normalise_url


def alembic_config(service: ServiceName, settings: Settings, scripts: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    cfg.attributes["url"] = normalise_url(settings.database_url_for(service))
    cfg.attributes["schema"] = service
    if cfg.attributes["url"].startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return cfg


def upgrade(service: ServiceName, settings: Settings, scripts: Path, revision: str = "head") -> None:
    """Bring `service`'s database (its SQLite file or its PostgreSQL schema) to `revision`, running the
    Alembic scripts in the directory `scripts`."""
    command.upgrade(alembic_config(service, settings, scripts), revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's env.py: online migrations over the async engine."""
    from alembic import context
    from sqlalchemy.ext.asyncio import create_async_engine

    url: str = context.config.attributes["url"]
    schema: str = context.config.attributes["schema"]
    postgres = url.startswith("postgresql")

    def do_run(connection: Connection) -> None:
        if postgres:
            # Created only when missing: with per-service roles (`hub setup postgres-roles`) the schema
            # exists, owned by the service's role, which may not create schemas (CREATE SCHEMA IF NOT
            # EXISTS checks that right before it looks).
            exists = connection.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
            ).first()
            if exists is None:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            connection.execute(text(f'SET search_path TO "{schema}"'))
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema if postgres else None,
            render_as_batch=not postgres,  # SQLite alters tables by copy
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(run())
