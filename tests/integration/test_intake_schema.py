"""Intake's 0002 migration recomputes the address keys of cases registered before it (that every
service's migrations give exactly the declared tables is tests/integration/test_schemas.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.config import Settings
from hub.db import create_engine_for
from services.intake.migrations import migrate
from tests.kit.infra import isolated_backends
from tests.kit.inprocess import make_settings


@pytest.fixture
async def settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    async with isolated_backends(backend) as (amqp_url, db_url):
        yield make_settings(tmp_path, amqp_url, db_url)


async def test_upgrade_recomputes_address_keys_of_earlier_cases(settings: Settings) -> None:
    await asyncio.to_thread(migrate, settings, "intake_0001")
    engine = create_engine_for(settings, "intake")
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO cases (case_no, channel, request_type, category, category_source, "
                    "category_words, title, description, reporter_anonymous, sms_capable, address, "
                    "address_key, people_involved, flags, colour, colour_reasons, colour_overridden, "
                    "response_level, repeat_count_30d, status, registered_at) VALUES ('ZZ-20261101-000001', "
                    "'hotline12345', 'complaint', 'noise', 'caller', '[]', 't', 'd', false, false, :address, "
                    ":old_key, 1, '[]', 'blue', '[]', false, 'immediate', 0, 'registered', :at)"
                ),
                {
                    "address": "包头市昆都仑区少先路街道东方花园3号楼2单元501室",
                    "old_key": "包头市昆都仑区少先路街道东方花园3栋2单元501",
                    "at": datetime(2026, 11, 1, tzinfo=UTC),
                },
            )
        await asyncio.to_thread(migrate, settings)
        async with engine.connect() as conn:
            key = (await conn.execute(text("SELECT address_key FROM cases"))).scalar_one()
            tail = (await conn.execute(text("SELECT count(*) FROM audit_log"))).scalar_one()
    finally:
        await engine.dispose()
    assert key == "东方花园3栋2单元501" and tail == 0
