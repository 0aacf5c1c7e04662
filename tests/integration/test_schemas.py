"""Every service's migrations, run from empty, give exactly the tables, columns and indexes its code
declares, on SQLite and PostgreSQL: a model change without its migration fails here, not in production."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from hub.config import ServiceName, Settings
from hub.db import create_engine_for
from hubcli.services import MIGRATIONS
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings

TABLES = {
    "intake": "services.intake.tables",
    "referral": "services.referral.tables",
    "notification": "services.notification.tables",
    "gateway": "gateway.tables",
}


@pytest.fixture
async def settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    async with isolated_backends(backend) as (amqp_url, db_url):
        yield make_settings(tmp_path, amqp_url, db_url)


@pytest.mark.parametrize("service", sorted(TABLES))
async def test_migrations_give_the_tables_the_code_declares(settings: Settings, service: ServiceName) -> None:
    metadata: MetaData = importlib.import_module(TABLES[service]).metadata
    await asyncio.to_thread(MIGRATIONS[service], settings)
    engine = create_engine_for(settings, service)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
