"""Intake's database migrations (Alembic: env.py, versions/); `migrate` applies them."""

from __future__ import annotations

from pathlib import Path

from hub.config import Settings
from hub.migrations import upgrade


def migrate(settings: Settings, revision: str = "head") -> None:
    """Bring intake's database (its SQLite file or PostgreSQL schema) to `revision` (idempotent)."""
    upgrade("intake", settings, Path(__file__).parent, revision)
