from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.config import Settings

PROD_KEY = "c2VjcmV0LWtleS1mb3ItcHJvZHVjdGlvbi0zMmJ5dGU="
DOC = Path(__file__).resolve().parents[3] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`HUB_{name.upper()}`" not in text]
    assert missing == []


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError, match="HUB_PII_KEY"):
        Settings(env="prod")  # type: ignore[arg-type]


def test_production_starts_with_real_secrets() -> None:
    settings = Settings(
        env="prod",  # type: ignore[arg-type]
        pii_key=PROD_KEY,
        hash_key="h",
        token_secret="t",
    )
    assert settings.env == "prod"


def test_production_refuses_failpoints() -> None:
    with pytest.raises(ValidationError, match="FAILPOINTS"):
        Settings(env="prod", pii_key=PROD_KEY, hash_key="h", token_secret="t", failpoints="x=kill")  # type: ignore[arg-type]


def test_each_service_gets_its_own_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    urls = {settings.database_url_for(s) for s in ("gateway", "intake", "referral", "notification")}
    assert len(urls) == 4 and all(u.startswith("sqlite+aiosqlite:///") for u in urls)


def test_a_personal_data_key_of_the_wrong_size_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="16, 24 or 32 bytes"):
        Settings(pii_key="a2V5")
