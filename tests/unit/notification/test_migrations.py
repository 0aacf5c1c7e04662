"""The notification migrations build exactly the tables the code declares (SQLite)."""

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from hub.config import Settings
from services.notification.migrations import migrate
from services.notification.tables import metadata


def test_migrated_schema_matches_the_tables(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    migrate(settings)
    engine = create_engine(f"sqlite:///{tmp_path / 'notification.db'}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []
