"""Settings for every hub process, read from the environment (HUB_*) with fail-fast validation."""

from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["gateway", "intake", "referral", "notification"]
SERVICES: tuple[ServiceName, ...] = ("gateway", "intake", "referral", "notification")

# SMS provider adapters selectable by HUB_SMS_PROVIDERS (services/notification/sms/).
SMS_PROVIDERS = ("aliyun", "smpp")

# Development secrets: usable on a laptop, refused in production.
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy0hISEhISE="  # base64 of 32 bytes
DEV_HASH_KEY = "dev-only-hash-key"
DEV_TOKEN_SECRET = "dev-only-token-secret"  # noqa: S105 - refused in production


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


class Settings(BaseSettings):
    """One table of settings; each field is the environment variable HUB_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", frozen=True)

    env: Environment = Environment.dev
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset means one embedded SQLite file per service"
    )
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    exchange: str = "hub.events"
    quorum_queues: bool = True
    delivery_limit: int = Field(
        default=10, ge=1, description="Redeliveries before a message is dead-lettered"
    )
    retry_delays_ms: tuple[int, ...] = (500, 5_000, 30_000, 120_000)
    prefetch: int = Field(default=32, ge=1)

    host: str = "127.0.0.1"
    gateway_port: int = 8000
    intake_port: int = 8001
    referral_port: int = 8002
    notification_port: int = 8003
    intake_url: str | None = None
    referral_url: str | None = None
    notification_url: str | None = None

    sim_sms_port: int = Field(
        default=8101, description="Port of the SMS simulator started by `hub up --simulators`"
    )
    sms_url: str = "http://127.0.0.1:8101"
    sms_sign_name: str = "昆都仑区综治中心"
    sms_access_key_id: str = "dev-access-key"
    sms_access_key_secret: str = "dev-access-secret"  # noqa: S105 - development default, refused in prod
    sms_providers: tuple[str, ...] = Field(
        default=("aliyun",),
        description="SMS providers in failover order (JSON list): aliyun, smpp",
    )
    smpp_host: str = Field(default="127.0.0.1", description="SMPP gateway (SMSC) host")
    smpp_port: int = Field(default=2775, ge=1, le=65535, description="SMPP gateway (SMSC) port")
    smpp_system_id: str = Field(default="hub", description="SMPP bind system_id (account)")
    smpp_password: str = Field(
        default="dev-smpp",
        description="SMPP bind password (SMPP v3.4 allows at most 8 characters)",
    )
    sms_inbound_redelivery_window_s: int = Field(
        default=3600,
        ge=1,
        description=(
            "An inbound SMS without a provider message id (SMPP) that repeats the sender, number, "
            "reference and text of one received this many seconds before is a redelivery: recorded once"
        ),
    )

    # Adapters to external systems (gateway/adapters/, docs/adapters/). Per system: the base URL of
    # its API (unset: nothing is pushed to it), our credentials there, the secret it signs its pushes
    # to /adapters/<system>/… with, and the port of its loopback simulator.
    hotline12345_url: str | None = Field(
        default=None, description="Base URL of the 12345 platform's open API; unset: no outbound sync"
    )
    hotline12345_app_key: str = Field(default="hub-dev", description="Our appKey at the 12345 platform")
    hotline12345_app_secret: str = Field(
        default="dev-hotline12345-app-secret",  # development default
        description="Our appSecret at the 12345 platform (signs our requests)",
    )
    hotline12345_webhook_secret: str = Field(
        default="dev-hotline12345-webhook-secret",  # development default
        description="Shared secret the 12345 platform signs its pushes to the hub with",
    )
    sim_hotline12345_port: int = Field(default=8111, description="Port of the 12345 platform simulator")
    police110_url: str | None = Field(
        default=None, description="Base URL of the police 110 linkage API; unset: no outbound sync"
    )
    police110_app_key: str = Field(default="hub-dev", description="Our appid at the police 110 platform")
    police110_app_secret: str = Field(
        default="dev-police110-app-secret",  # development default
        description="Our secret at the police 110 platform (signs our requests)",
    )
    police110_webhook_secret: str = Field(
        default="dev-police110-webhook-secret",  # development default
        description="Shared secret police 110 signs its pushes to the hub with",
    )
    sim_police110_port: int = Field(default=8112, description="Port of the police 110 simulator")
    court_url: str | None = Field(
        default=None, description="Base URL of the court's mediation platform API; unset: no outbound sync"
    )
    court_app_key: str = Field(default="hub-dev", description="Our clientId at the court's platform")
    court_app_secret: str = Field(
        default="dev-court-app-secret",  # development default
        description="Our secret at the court's platform (HMAC-SM3 signs our requests)",
    )
    court_webhook_secret: str = Field(
        default="dev-court-webhook-secret",  # development default
        description="Shared secret the court signs its pushes to the hub with",
    )
    sim_court_port: int = Field(default=8113, description="Port of the court platform simulator")
    procuratorate12309_url: str | None = Field(
        default=None, description="Base URL of the procuratorate 12309 platform API; unset: no outbound sync"
    )
    procuratorate12309_app_key: str = Field(default="hub-dev", description="Our appKey at 12309")
    procuratorate12309_app_secret: str = Field(
        default="dev-procuratorate12309-app-secret",  # development default
        description="Our secret at 12309 (signs our requests)",
    )
    procuratorate12309_webhook_secret: str = Field(
        default="dev-procuratorate12309-webhook-secret",  # development default
        description="Shared secret 12309 signs its pushes to the hub with",
    )
    sim_procuratorate12309_port: int = Field(default=8114, description="Port of the 12309 simulator")
    adapter_max_attempts: int = Field(
        default=20, ge=1, description="Attempts before an outbound update is marked failed"
    )
    adapter_retry_base_s: float = Field(
        default=2.0, gt=0, description="First retry delay of an outbound update; doubles each attempt"
    )
    adapter_retry_max_s: float = Field(default=120.0, gt=0, description="Longest retry delay")
    adapter_timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout of one push")
    adapter_sender_batch: int = Field(default=50, ge=1, description="Updates claimed per sender round")
    adapter_signature_tolerance_s: int = Field(
        default=300, ge=1, description="How old (or how far ahead) an inbound X-Hub-Timestamp may be"
    )
    adapter_signature_algorithm: Literal["sha256", "sm3"] = Field(
        default="sha256", description="HMAC of inbound X-Hub-Signature: sha256, or sm3 where 密评 requires"
    )
    adapter_hub_url: str | None = Field(
        default=None, description="Where simulators push to the hub (default: the gateway's address)"
    )

    # Ops (issue 7, docs/operations.md): what counts as stalled, and the early-warning thresholds.
    ops_idle_minutes: int = Field(
        default=1440, ge=1, description="An open referral untouched this long is listed as stalled (idle)"
    )
    ops_outbox_stall_s: int = Field(
        default=60, ge=0, description="An outbox row not relayed after this many seconds is listed as stalled"
    )
    ops_adapter_stall_s: int = Field(
        default=300, ge=0, description="An outbound adapter update still retrying after this long is stalled"
    )
    ops_burst_window_minutes: int = Field(
        default=1440,
        ge=1,
        description="Early warning: window in which same-category cases in one grid/street count",
    )
    ops_burst_threshold: int = Field(
        default=5,
        ge=2,
        description="Early warning: cases of one category in one grid/street within the window",
    )
    ops_repeat_reporter_days: int = Field(
        default=30, ge=1, description="Early warning: window for counting one reporter's cases"
    )
    ops_repeat_reporter_threshold: int = Field(
        default=3, ge=2, description="Early warning: cases by one reporter (keyed hash) within the window"
    )

    pii_key: str = DEV_PII_KEY
    pii_old_keys: tuple[str, ...] = Field(
        default=(),
        description="Retired personal-data keys (base64), still accepted for reading until `hub pii rotate`",
    )
    hash_key: str = DEV_HASH_KEY
    token_secret: str = DEV_TOKEN_SECRET
    auth_required: bool = Field(
        default=True,
        description="Require a bearer token on /api/v1 (false trusts client-sent actor headers: dev and tests only)",
    )

    otlp_endpoint: str | None = None
    trace_file: Path | None = Field(
        default=None, description="Append exported spans as JSON lines (tests, audits)"
    )
    log_level: str = "INFO"

    intake_rules_dir: Path | None = Field(
        default=None,
        description="Directory with intake rule files (grading.yaml, classifier.yaml); unset: the packaged ones",
    )

    db_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections kept per process")
    db_max_overflow: int = Field(
        default=5, ge=0, description="Extra PostgreSQL connections per process under load"
    )
    relay_batch: int = Field(default=200, ge=1)
    relay_idle_poll_s: float = Field(default=0.5, gt=0)
    lease_s: float = Field(default=30.0, gt=0)
    failpoints: str = Field(default="", description="Test-only crash points: name=action[,name=action]")
    intake_import_workers: int = Field(
        default=1, ge=0, le=8, description="Worker processes preparing bulk-import batches (0: a thread)"
    )

    @field_validator("pii_key")
    @classmethod
    def _pii_key_is_an_aes_key(cls, value: str) -> str:
        try:
            size = len(base64.b64decode(value, validate=True))
        except ValueError:
            raise ValueError("HUB_PII_KEY must be base64") from None
        if size not in (16, 24, 32):
            raise ValueError(f"HUB_PII_KEY must decode to 16, 24 or 32 bytes (got {size})")
        return value

    @field_validator("sms_providers")
    @classmethod
    def _known_sms_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(v.strip().lower() for v in value)
        unknown = sorted(set(names) - set(SMS_PROVIDERS))
        if unknown:
            raise ValueError(
                f"HUB_SMS_PROVIDERS: unknown provider(s) {unknown}; choose from {list(SMS_PROVIDERS)}"
            )
        if not names or len(set(names)) != len(names):
            raise ValueError("HUB_SMS_PROVIDERS must list at least one provider, each once")
        return names

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.env is Environment.prod:
            weak = [
                name
                for name, dev in (
                    ("HUB_PII_KEY", DEV_PII_KEY),
                    ("HUB_HASH_KEY", DEV_HASH_KEY),
                    ("HUB_TOKEN_SECRET", DEV_TOKEN_SECRET),
                )
                if getattr(self, name[4:].lower()) == dev
            ]
            if weak:
                raise ValueError(f"production refuses development secrets: set {', '.join(weak)}")
            if self.failpoints:
                raise ValueError("HUB_FAILPOINTS is for tests only and is refused in production")
            if not self.auth_required:
                raise ValueError(
                    "HUB_AUTH_REQUIRED=false is for development and tests only; production refuses it"
                )
        return self

    def port_of(self, service: ServiceName) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def url_of(self, service: ServiceName) -> str:
        explicit: str | None = getattr(self, f"{service}_url", None)
        return explicit or f"http://{self.host}:{self.port_of(service)}"

    def database_url_for(self, service: ServiceName) -> str:
        """Each service owns its data: a SQLite file each, or a schema each in one PostgreSQL database."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url and self.database_url.startswith("postgresql"))


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
