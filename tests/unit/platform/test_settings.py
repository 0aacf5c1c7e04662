from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings
from hub.config import ServiceSettings, Settings
from hub.credentials import DEV_INTERNAL_VERIFY_KEY, new_signing_key, public_key_of
from hubcli.services import SETTINGS, HubSettings
from services.intake.settings import IntakeSettings
from services.notification.settings import NotificationSettings
from services.referral.settings import ReferralSettings

PROD_KEY = "c2VjcmV0LWtleS1mb3ItcHJvZHVjdGlvbi0zMmJ5dGU="
SIGNING = new_signing_key()
# What only the gateway holds in production: the API token key, the internal credential's signing key,
# the SMS push token.
GATEWAY_SECRETS = {"token_secret": "t", "internal_signing_key": SIGNING, "sms_webhook_token": "s"}
DOC = Path(__file__).resolve().parents[3] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = [f"HUB_{name.upper()}" for name in HubSettings.model_fields]
    names += [f"HUB_REFERRAL_{name.upper()}" for name in ReferralSettings.model_fields]
    missing = [name for name in names if f"`{name}`" not in text]
    assert missing == []


def test_each_process_reads_the_shared_settings_and_its_own() -> None:
    """A setting lives in one class: the kit's shared table or the one process that reads it."""
    shared = set(ServiceSettings.model_fields)  # the shared table and the services' verify keys
    assert set(ServiceSettings.model_fields) - set(Settings.model_fields) == {"internal_verify_keys"}
    own = {
        cls: set(cls.model_fields) - shared for cls in (GatewaySettings, IntakeSettings, NotificationSettings)
    }
    assert all(issubclass(cls, Settings) for cls in SETTINGS.values())
    assert not own[GatewaySettings] & own[IntakeSettings]
    assert not own[GatewaySettings] & own[NotificationSettings]
    assert not own[IntakeSettings] & own[NotificationSettings]
    assert set(HubSettings.model_fields) == shared.union(*own.values())
    assert {"token_secret", "hotline12345_url", "sim_court_port", "ops_idle_minutes"} <= own[GatewaySettings]
    assert {"internal_signing_key", "sms_webhook_token"} <= own[GatewaySettings]
    assert {"sms_url", "sim_sms_port", "smpp_password"} <= own[NotificationSettings]
    assert {"intake_rules_dir", "intake_import_workers"} <= own[IntakeSettings]


def test_only_the_gateway_holds_signing_keys() -> None:
    """The API token key and the internal credential's signing key: the gateway's settings only; the
    services hold the verify keys (public) and nothing that could make a token or a credential."""
    for cls in (IntakeSettings, NotificationSettings, SETTINGS["referral"]):
        assert issubclass(cls, ServiceSettings)
        assert not {"token_secret", "internal_signing_key", "sms_webhook_token"} & set(cls.model_fields)
    assert "internal_verify_keys" not in GatewaySettings.model_fields


def test_production_refuses_development_secrets() -> None:
    with pytest.raises(ValidationError, match="HUB_PII_KEY"):
        Settings(env="prod")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", [GatewaySettings, HubSettings])
def test_production_refuses_the_development_token_secret_where_tokens_are_signed(
    kind: type[Settings],
) -> None:
    with pytest.raises(ValidationError, match="set HUB_PII_KEY, HUB_HASH_KEY, HUB_TOKEN_SECRET"):
        kind(env="prod")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="set HUB_TOKEN_SECRET"):
        kind(env="prod", pii_key=PROD_KEY, hash_key="h")  # type: ignore[arg-type]


def test_production_starts_with_real_secrets() -> None:
    settings = GatewaySettings(env="prod", pii_key=PROD_KEY, hash_key="h", **GATEWAY_SECRETS)  # type: ignore[arg-type]
    assert settings.env == "prod"
    # A service signs nothing: the shared secrets and the gateway's public key.
    service = ServiceSettings(
        env="prod", pii_key=PROD_KEY, hash_key="h", internal_verify_keys=(public_key_of(SIGNING),)
    )  # type: ignore[arg-type]
    assert service.env == "prod"


def test_production_refuses_the_development_internal_keys() -> None:
    with pytest.raises(ValidationError, match="set HUB_INTERNAL_SIGNING_KEY"):
        GatewaySettings(env="prod", pii_key=PROD_KEY, hash_key="h", token_secret="t", sms_webhook_token="s")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="HUB_INTERNAL_VERIFY_KEYS holds the development key"):
        ServiceSettings(env="prod", pii_key=PROD_KEY, hash_key="h")  # type: ignore[arg-type]
    # Beside a real key too (rotation must not keep the development key accepted).
    with pytest.raises(ValidationError, match="HUB_INTERNAL_VERIFY_KEYS holds the development key"):
        ServiceSettings(
            env="prod",  # type: ignore[arg-type]
            pii_key=PROD_KEY,
            hash_key="h",
            internal_verify_keys=(public_key_of(SIGNING), DEV_INTERNAL_VERIFY_KEY),
        )
    with pytest.raises(ValidationError, match="32 bytes"):
        ServiceSettings(internal_verify_keys=("a2V5",))
    with pytest.raises(ValidationError, match="32 bytes"):
        GatewaySettings(internal_signing_key="a2V5")


def test_production_refuses_failpoints() -> None:
    with pytest.raises(ValidationError, match="FAILPOINTS"):
        GatewaySettings(env="prod", pii_key=PROD_KEY, hash_key="h", failpoints="x=kill", **GATEWAY_SECRETS)  # type: ignore[arg-type]


def test_each_service_gets_its_own_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    urls = {settings.database_url_for(s) for s in ("gateway", "intake", "referral", "notification")}
    assert len(urls) == 4 and all(u.startswith("sqlite+aiosqlite:///") for u in urls)


def test_a_personal_data_key_of_the_wrong_size_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="16, 24 or 32 bytes"):
        Settings(pii_key="a2V5")
