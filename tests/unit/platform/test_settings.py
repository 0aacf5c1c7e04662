from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.settings import GatewaySettings
from hub.config import DevSecret, ServiceSettings, Settings
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


SYSTEMS = ("hotline12345", "police110", "court", "procuratorate12309")
WEBHOOK_SECRETS = {f"{system}_webhook_secret": "w" for system in SYSTEMS}


@pytest.mark.parametrize("kind", [GatewaySettings, HubSettings])
def test_production_refuses_the_development_token_secret_where_tokens_are_signed(
    kind: type[Settings],
) -> None:
    with pytest.raises(ValidationError, match="set HUB_PII_KEY, HUB_HASH_KEY, HUB_"):
        kind(env="prod")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"set (HUB_SMS_ACCESS_KEY_SECRET, )?HUB_TOKEN_SECRET"):
        kind(env="prod", pii_key=PROD_KEY, hash_key="h", **WEBHOOK_SECRETS)  # type: ignore[arg-type]


def _dev_secret_fields(kind: type[Settings]) -> list[str]:
    return [
        name
        for name, info in kind.model_fields.items()
        if any(isinstance(mark, DevSecret) for mark in info.metadata)
    ]


# Every secret any process reads, with what makes it in use (a secret of an unused integration may
# keep its development value: it is never sent anywhere and nothing is checked against it).
IN_USE: dict[str, dict[str, object]] = {
    **{f"{system}_app_secret": {f"{system}_url": f"https://{system}.example"} for system in SYSTEMS},
    "sms_access_key_secret": {"sms_providers": ("aliyun",)},
    "smpp_password": {"sms_providers": ("smpp",)},
}


def _real_values(kind: type[Settings]) -> dict[str, object]:
    values: dict[str, object] = {name: f"real-{name}" for name in _dev_secret_fields(kind)}
    values["pii_key"] = PROD_KEY
    if "internal_signing_key" in values:
        values["internal_signing_key"] = SIGNING
    if "internal_verify_keys" in kind.model_fields:
        values["internal_verify_keys"] = (public_key_of(SIGNING),)
    return values


def test_every_secret_with_a_development_default_is_marked() -> None:
    """A secret-looking setting with a default must carry the mark, or production would start on it."""
    secretish = {
        name
        for name, info in HubSettings.model_fields.items()
        if any(word in name for word in ("secret", "password", "_key", "_token"))
        and isinstance(info.default, str)
        and info.default  # an empty default is no secret: the setting is simply unset
        and not name.endswith(("_app_key", "access_key_id"))  # identifiers, not secrets
    }
    assert secretish == set(_dev_secret_fields(HubSettings)), "mark it Annotated[str, DEV_SECRET]"
    assert {*(f"{s}_webhook_secret" for s in SYSTEMS), *IN_USE, "token_secret"} <= secretish


@pytest.mark.parametrize("name", _dev_secret_fields(HubSettings))
def test_production_refuses_each_development_secret_naming_it(name: str) -> None:
    """Everything real but one secret left at its development default: refused, naming that variable."""
    values = _real_values(HubSettings)
    real = values.pop(name)
    values |= IN_USE.get(name, {})
    with pytest.raises(
        ValidationError, match=f"production refuses development secrets: set HUB_{name.upper()} "
    ):
        HubSettings(env="prod", **values)  # type: ignore[arg-type]
    # The same settings with the secret set start.
    values[name] = real
    assert HubSettings(env="prod", **values).env == "prod"  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(IN_USE))
def test_an_unused_integrations_development_secret_is_not_refused(name: str) -> None:
    values = _real_values(HubSettings)
    del values[name]
    values["sms_providers"] = ("smpp",) if name == "sms_access_key_secret" else ("aliyun",)
    assert HubSettings(env="prod", **values).env == "prod"  # type: ignore[arg-type]


def test_each_service_reads_its_own_database_url_and_falls_back_to_the_shared_one() -> None:
    shared = "postgresql://hub:x@db/hub"
    settings = Settings(database_url=shared, intake_database_url="postgresql://hub_intake:y@db/hub")
    assert settings.database_url_for("intake") == "postgresql://hub_intake:y@db/hub"
    assert settings.database_url_for("referral") == shared
    assert Settings(referral_database_url="postgresql://r@db/hub").uses_postgres


def test_production_starts_with_real_secrets() -> None:
    settings = GatewaySettings(
        env="prod", pii_key=PROD_KEY, hash_key="h", **GATEWAY_SECRETS, **WEBHOOK_SECRETS
    )  # type: ignore[arg-type]
    assert settings.env == "prod"
    # A service signs nothing: the shared secrets and the gateway's public key.
    service = ServiceSettings(
        env="prod", pii_key=PROD_KEY, hash_key="h", internal_verify_keys=(public_key_of(SIGNING),)
    )  # type: ignore[arg-type]
    assert service.env == "prod"


def test_production_refuses_the_development_internal_keys() -> None:
    with pytest.raises(ValidationError, match="set HUB_INTERNAL_SIGNING_KEY"):
        GatewaySettings(
            env="prod",
            pii_key=PROD_KEY,
            hash_key="h",
            token_secret="t",
            sms_webhook_token="s",
            **WEBHOOK_SECRETS,
        )  # type: ignore[arg-type]
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
        GatewaySettings(
            env="prod",
            pii_key=PROD_KEY,
            hash_key="h",
            failpoints="x=kill",
            **GATEWAY_SECRETS,
            **WEBHOOK_SECRETS,
        )  # type: ignore[arg-type]


def test_each_service_gets_its_own_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    urls = {settings.database_url_for(s) for s in ("gateway", "intake", "referral", "notification")}
    assert len(urls) == 4 and all(u.startswith("sqlite+aiosqlite:///") for u in urls)


def test_a_personal_data_key_of_the_wrong_size_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="16, 24 or 32 bytes"):
        Settings(pii_key="a2V5")
