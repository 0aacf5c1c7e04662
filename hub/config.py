"""Settings every hub process shares, read from the environment (HUB_*) with fail-fast validation.

What only one process reads lives with it, in a subclass of `Settings` (same HUB_ prefix, so the
variables keep their names): gateway/settings.py (adapters, ops views, API tokens),
services/intake/settings.py, services/notification/settings.py (SMS); referral keeps its own
HUB_REFERRAL_* table beside this one (services/referral/settings.py).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.credentials import DEV_INTERNAL_VERIFY_KEY
from hub.crypto import HashKey, Suite, check_key

ServiceName = Literal["gateway", "intake", "referral", "notification"]
SERVICES: tuple[ServiceName, ...] = ("gateway", "intake", "referral", "notification")

# Development secrets: usable on a laptop, refused in production.
DEV_PII_KEY = "ZGV2LW9ubHktcGlpLWtleS0zMi1ieXRlcy0hISEhISE="  # base64 of 32 bytes
DEV_PII_KEY_SM4 = "ZGV2LW9ubHktc200LWtleQ=="  # base64 of 16 bytes: the default under HUB_CRYPTO=national
DEV_HASH_KEY = "dev-only-hash-key"


class DevSecret:
    """Marks a setting whose default is a development secret: production refuses to start on it.

    `Annotated[str, DEV_SECRET]` on a field of any settings class; the check below finds the marks.
    `DevSecret(needed=…)` marks a secret used only in some configurations (an SMS provider that is
    not selected, an external system with no URL): its default is refused only when it is in use.
    """

    def __init__(self, needed: Callable[[Any], bool] | None = None) -> None:
        self.needed = needed

    def in_use(self, settings: object) -> bool:
        return self.needed is None or self.needed(settings)


DEV_SECRET = DevSecret()
_DEV_VALUES = frozenset({DEV_PII_KEY, DEV_PII_KEY_SM4, DEV_HASH_KEY})


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


class Settings(BaseSettings):
    """The shared table of settings; each field is the environment variable HUB_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", frozen=True)

    env: Environment = Environment.dev
    data_dir: Path = Path("./var")
    database_url: str | None = Field(
        default=None, description="PostgreSQL URL; unset means one embedded SQLite file per service"
    )
    # One PostgreSQL role per process (`hub setup postgres-roles`): where one environment serves
    # several processes (`hub migrate`, one env file on a host), each finds its own role's URL here.
    gateway_database_url: str | None = Field(
        default=None, description="The gateway's own PostgreSQL URL (its role); unset: HUB_DATABASE_URL"
    )
    intake_database_url: str | None = Field(
        default=None, description="Intake's own PostgreSQL URL (its role); unset: HUB_DATABASE_URL"
    )
    referral_database_url: str | None = Field(
        default=None, description="Referral's own PostgreSQL URL (its role); unset: HUB_DATABASE_URL"
    )
    notification_database_url: str | None = Field(
        default=None, description="Notification's own PostgreSQL URL (its role); unset: HUB_DATABASE_URL"
    )
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    exchange: str = "hub.events"
    quorum_queues: bool = True
    delivery_limit: int = Field(
        default=10, ge=1, description="Redeliveries before a message is dead-lettered"
    )
    retry_delays_ms: tuple[int, ...] = (500, 5_000, 30_000, 120_000)
    prefetch: int = Field(default=32, ge=1)
    consumer_batch: int = Field(
        default=16,
        ge=1,
        le=1000,
        description="Deliveries a batching consumer handles in one transaction at most (1: one each)",
    )
    consumer_batch_window_ms: float = Field(
        default=0,
        ge=0,
        le=1000,
        description="How long a batch waits for more deliveries before its transaction opens (0: none)",
    )
    broker_setup_grace_s: float = Field(
        default=120, gt=0, description="Broker set-up failing this long (broker reachable) fails liveness"
    )

    # Which hub this process belongs to: the gateway's credentials name it and a service of another
    # instance refuses them, so two hubs on one machine never cross (default: derived, see instance()).
    instance_id: str = Field(
        default="",
        max_length=64,
        description="This hub instance's name (default: "
        "derived from the data directory and the broker's address and vhost)",
    )

    # Where each process listens and finds the others.
    host: str = "127.0.0.1"
    gateway_port: int = 8000
    intake_port: int = 8001
    referral_port: int = 8002
    notification_port: int = 8003
    intake_url: str | None = None
    referral_url: str | None = None
    notification_url: str | None = None

    # Early warning (弱信号): the gateway's ops views and referral's worklist tasks count alike.
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

    # Cryptography (docs/cryptography.md): the suite, the personal-data keys, the keyed-hash keys.
    crypto: Suite = Field(
        default=Suite.international,
        description="international: AES-GCM + HMAC-SHA256; national (密评): SM4-GCM + HMAC-SM3",
    )
    pii_key: Annotated[str, DEV_SECRET] = Field(
        default=DEV_PII_KEY,
        description="Personal-data key (base64): 16/24/32 bytes for AES, 16 bytes for SM4",
    )
    pii_old_keys: tuple[str, ...] = Field(
        default=(),
        description="Retired personal-data keys (base64), still accepted for reading until `hub pii rotate`",
    )
    pii_read_v1: bool = Field(
        default=True,
        description="Still read the v1 ciphertext format (no associated data); off once `hub pii rotate` ran",
    )
    hash_key_version: int = Field(
        default=1, ge=1, description="Version of HUB_HASH_KEY, recorded in every audit entry it chains"
    )
    hash_old_keys: tuple[str, ...] = Field(
        default=(),
        description='Retired hash keys as "version:key": audit entries chained with them still verify',
    )
    hash_key: Annotated[str, DEV_SECRET] = DEV_HASH_KEY

    otlp_endpoint: str | None = None
    trace_file: Path | None = Field(
        default=None, description="Append exported spans as JSON lines (tests, audits)"
    )
    log_level: str = "INFO"

    db_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections kept per process")
    db_max_overflow: int = Field(
        default=5, ge=0, description="Extra PostgreSQL connections per process under load"
    )
    db_pool_timeout_s: float = Field(
        default=10,
        gt=0,
        description="Longest wait for a free PostgreSQL connection; then a request is answered 503 with "
        "Retry-After (a consumer tries the event again, no attempt counted)",
    )
    max_in_flight: int = Field(
        default=64,
        ge=1,
        description="Most HTTP requests a process answers at once; the next is refused at once with 503 and "
        "Retry-After (probes and metrics always answered)",
    )
    busy_retry_after_s: int = Field(
        default=2,
        ge=1,
        description="Retry-After of a request refused past HUB_MAX_IN_FLIGHT: a random whole number of "
        "seconds between this and twice this, so refused clients do not return together",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest request body any process accepts (413 before reading more); the gateway's general API limit",
    )
    relay_batch: int = Field(default=200, ge=1)
    relay_idle_poll_s: float = Field(default=0.5, gt=0)
    lease_s: float = Field(default=30.0, gt=0)
    outbox_retention_days: float = Field(
        default=7, gt=0, description="Relayed outbox rows are deleted after this many days"
    )
    inbox_retention_days: float = Field(
        default=30,
        gt=0,
        description="Inbox records (events already handled) are deleted after this many days; keep it "
        "longer than any dead letter may wait before it is replayed",
    )
    retention_interval_s: float = Field(default=600, gt=0, description="How often retention runs")
    failpoints: str = Field(default="", description="Test-only crash points: name=action[,name=action]")

    @model_validator(mode="before")
    @classmethod
    def _national_dev_key(cls, data: Any) -> Any:
        """Under HUB_CRYPTO=national without a key set, the development key is a 16-byte (SM4) one."""
        if isinstance(data, dict) and str(data.get("crypto", "")) == Suite.national and "pii_key" not in data:
            return {**data, "pii_key": DEV_PII_KEY_SM4}
        return data

    @field_validator("pii_key")
    @classmethod
    def _pii_key_fits_the_suite(cls, value: str, info: ValidationInfo) -> str:
        check_key(info.data.get("crypto", Suite.international), value)
        return value

    @field_validator("pii_old_keys")
    @classmethod
    def _old_keys_are_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, key in enumerate(value, start=1):
            check_key(Suite.international, key, f"HUB_PII_OLD_KEYS (key {i})")  # AES sizes include SM4's
        return value

    @field_validator("hash_old_keys")
    @classmethod
    def _old_hash_keys_are_versioned(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[int] = set()
        for item in value:
            version, sep, secret = item.partition(":")
            if not sep or not version.strip().isdigit() or not secret:
                raise ValueError('HUB_HASH_OLD_KEYS entries are "version:key" (e.g. 1:the-old-key)')
            if int(version) in seen:
                raise ValueError(f"HUB_HASH_OLD_KEYS names version {int(version)} twice")
            seen.add(int(version))
        return value

    @field_validator("hash_key")
    @classmethod
    def _hash_key_carries_suite_and_version(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            raise ValueError("HUB_HASH_KEY must not be empty")
        version = int(info.data.get("hash_key_version", 1))
        older: dict[int, str] = {}
        for item in info.data.get("hash_old_keys", ()):
            old_version, _, secret = item.partition(":")
            older[int(old_version)] = secret
        if version in older:
            raise ValueError(f"HUB_HASH_OLD_KEYS names version {version}, which is HUB_HASH_KEY_VERSION")
        return HashKey(
            value, suite=info.data.get("crypto", Suite.international), version=version, older=older
        )

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.env is Environment.prod:
            # Every marked field of this class, its process's subclass included, in declaration order.
            weak = [
                f"HUB_{name.upper()}"
                for name, info in type(self).model_fields.items()
                if any(isinstance(mark, DevSecret) and mark.in_use(self) for mark in info.metadata)
                and (getattr(self, name) == info.default or getattr(self, name) in _DEV_VALUES)
            ]
            if weak:
                raise ValueError(f"production refuses development secrets: set {', '.join(weak)}")
            if self.failpoints:
                raise ValueError("HUB_FAILPOINTS is for tests only and is refused in production")
        return self

    def instance(self) -> str:
        """HUB_INSTANCE_ID, else a name every process of one hub derives alike (same data directory, same
        broker and vhost; not the broker user, which differs per process in production)."""
        if self.instance_id:
            return self.instance_id
        broker = urlsplit(self.amqp_url)
        basis = f"{self.data_dir.resolve()}|{broker.hostname}:{broker.port}{broker.path or '/'}"
        return hashlib.sha256(basis.encode()).hexdigest()[:12]

    def port_of(self, service: ServiceName) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def url_of(self, service: ServiceName) -> str:
        explicit: str | None = getattr(self, f"{service}_url", None)
        return explicit or f"http://{self.host}:{self.port_of(service)}"

    def database_url_for(self, service: ServiceName) -> str:
        """Each service owns its data: a SQLite file each, or a schema each in one PostgreSQL database,
        reached with the service's own role where HUB_<SERVICE>_DATABASE_URL names it."""
        own: str | None = getattr(self, f"{service}_database_url")
        if own or self.database_url:
            return own or str(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.db').resolve()}"

    @property
    def uses_postgres(self) -> bool:
        return any(self.database_url_for(s).startswith("postgresql") for s in SERVICES)


class ServiceSettings(Settings):
    """What every service behind the gateway reads (intake, referral, notification): the public keys
    that check the gateway's internal credential (hub/credentials.py, hub/credential_guard.py)."""

    internal_verify_keys: tuple[str, ...] = Field(
        default=(DEV_INTERNAL_VERIFY_KEY,),
        min_length=1,
        description="Public keys (base64, JSON list) the gateway's internal credentials are checked with; "
        "several while its signing key rotates (`hub keys internal`)",
    )

    @field_validator("internal_verify_keys")
    @classmethod
    def _verify_keys_are_ed25519(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            try:
                size = len(base64.b64decode(key, validate=True))
            except ValueError:
                raise ValueError("HUB_INTERNAL_VERIFY_KEYS: each key must be base64") from None
            if size != 32:
                raise ValueError(f"HUB_INTERNAL_VERIFY_KEYS: an Ed25519 public key is 32 bytes, got {size}")
        return value

    @model_validator(mode="after")
    def _refuse_the_development_verify_key_in_production(self) -> ServiceSettings:
        # Refused even beside real keys: whoever has the source has the development signing key.
        if self.env is Environment.prod and DEV_INTERNAL_VERIFY_KEY in self.internal_verify_keys:
            raise ValueError(
                "production refuses development secrets: HUB_INTERNAL_VERIFY_KEYS holds the development "
                "key (make a pair with `hub keys internal`)"
            )
        return self


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
