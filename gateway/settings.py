"""Settings only the gateway reads (HUB_*, names unchanged): its adapters to external systems, its
ops views and the API's tokens. `hub up --simulators` reads the adapters' simulator ports from here.

A subclass of the kit's shared Settings, so the gateway's process validates both at start.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from hub.config import DEV_SECRET, DevSecret, Environment, Settings
from hub.credentials import DEV_INTERNAL_SIGNING_KEY, public_key_of

DEV_TOKEN_SECRET = "dev-only-token-secret"  # noqa: S105 - refused in production

# Our secret at an external system signs what we push to it: its development value is refused in
# production once the system's URL is set (unset: nothing is pushed, the secret is never used). The
# secret a system signs its pushes with is refused always: the webhook listens whether or not we push.
_used_with_hotline12345 = DevSecret(needed=lambda s: s.hotline12345_url is not None)
_used_with_police110 = DevSecret(needed=lambda s: s.police110_url is not None)
_used_with_court = DevSecret(needed=lambda s: s.court_url is not None)
_used_with_procuratorate12309 = DevSecret(needed=lambda s: s.procuratorate12309_url is not None)


class GatewaySettings(Settings):
    # Adapters to external systems (gateway/adapters/, docs/adapters/). Per system: the base URL of
    # its API (unset: nothing is pushed to it), our credentials there, the secret it signs its pushes
    # to /adapters/<system>/… with, and the port of its loopback simulator.
    hotline12345_url: str | None = Field(
        default=None, description="Base URL of the 12345 platform's open API; unset: no outbound sync"
    )
    hotline12345_app_key: str = Field(default="hub-dev", description="Our appKey at the 12345 platform")
    hotline12345_app_secret: Annotated[str, _used_with_hotline12345] = Field(
        default="dev-hotline12345-app-secret",  # refused in production while HOTLINE12345_URL is set
        description="Our appSecret at the 12345 platform (signs our requests)",
    )
    hotline12345_webhook_secret: Annotated[str, DEV_SECRET] = Field(
        default="dev-hotline12345-webhook-secret",  # refused in production
        description="Shared secret the 12345 platform signs its pushes to the hub with",
    )
    sim_hotline12345_port: int = Field(default=8111, description="Port of the 12345 platform simulator")
    police110_url: str | None = Field(
        default=None, description="Base URL of the police 110 linkage API; unset: no outbound sync"
    )
    police110_app_key: str = Field(default="hub-dev", description="Our appid at the police 110 platform")
    police110_app_secret: Annotated[str, _used_with_police110] = Field(
        default="dev-police110-app-secret",  # refused in production while POLICE110_URL is set
        description="Our secret at the police 110 platform (signs our requests)",
    )
    police110_webhook_secret: Annotated[str, DEV_SECRET] = Field(
        default="dev-police110-webhook-secret",  # refused in production
        description="Shared secret police 110 signs its pushes to the hub with",
    )
    sim_police110_port: int = Field(default=8112, description="Port of the police 110 simulator")
    court_url: str | None = Field(
        default=None, description="Base URL of the court's mediation platform API; unset: no outbound sync"
    )
    court_app_key: str = Field(default="hub-dev", description="Our clientId at the court's platform")
    court_app_secret: Annotated[str, _used_with_court] = Field(
        default="dev-court-app-secret",  # refused in production while COURT_URL is set
        description="Our secret at the court's platform (HMAC-SM3 signs our requests)",
    )
    court_webhook_secret: Annotated[str, DEV_SECRET] = Field(
        default="dev-court-webhook-secret",  # refused in production
        description="Shared secret the court signs its pushes to the hub with",
    )
    sim_court_port: int = Field(default=8113, description="Port of the court platform simulator")
    procuratorate12309_url: str | None = Field(
        default=None, description="Base URL of the procuratorate 12309 platform API; unset: no outbound sync"
    )
    procuratorate12309_app_key: str = Field(default="hub-dev", description="Our appKey at 12309")
    procuratorate12309_app_secret: Annotated[str, _used_with_procuratorate12309] = Field(
        default="dev-procuratorate12309-app-secret",  # refused in production while PROCURATORATE12309_URL is set
        description="Our secret at 12309 (signs our requests)",
    )
    procuratorate12309_webhook_secret: Annotated[str, DEV_SECRET] = Field(
        default="dev-procuratorate12309-webhook-secret",  # refused in production
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

    # Ops views (issue 7, docs/operations.md): what counts as stalled.
    ops_idle_minutes: int = Field(
        default=1440, ge=1, description="An open referral untouched this long is listed as stalled (idle)"
    )
    ops_outbox_stall_s: int = Field(
        default=60, ge=0, description="An outbox row not relayed after this many seconds is listed as stalled"
    )
    ops_adapter_stall_s: int = Field(
        default=300, ge=0, description="An outbound adapter update still retrying after this long is stalled"
    )
    # Bounded reads (issue 16, hub/ranges.py): the range /ops/summary and /ops/stats cover.
    ops_range_default_days: int = Field(
        default=90, ge=1, description="Days /ops/summary and /ops/stats cover when no range is given"
    )
    ops_range_max_days: int = Field(
        default=366, ge=31, le=3660, description="Widest range /ops/summary and /ops/stats accept (days)"
    )
    # Open311's public reads (no api_key): a token bucket per client address, and pages of requests.
    open311_reads_per_minute: int = Field(
        default=60, ge=1, description="Open311 GET requests refilled per minute for one client address"
    )
    open311_read_burst: int = Field(
        default=60, ge=1, description="Open311 GET requests one client address may make at once"
    )
    open311_page_size_default: int = Field(
        default=50, ge=1, description="Requests in one Open311 list when page_size is not given"
    )
    open311_page_size_max: int = Field(
        default=200, ge=1, le=1000, description="Largest page_size of an Open311 list"
    )

    @model_validator(mode="after")
    def _defaults_within_maxima(self) -> GatewaySettings:
        if self.ops_range_default_days > self.ops_range_max_days:
            raise ValueError("HUB_OPS_RANGE_DEFAULT_DAYS must not exceed HUB_OPS_RANGE_MAX_DAYS")
        if self.open311_page_size_default > self.open311_page_size_max:
            raise ValueError("HUB_OPEN311_PAGE_SIZE_DEFAULT must not exceed HUB_OPEN311_PAGE_SIZE_MAX")
        return self

    # The public API's bearer tokens: only the gateway holds this key (the services never see it).
    token_secret: Annotated[str, DEV_SECRET] = DEV_TOKEN_SECRET
    # The internal credential the gateway mints for every request it makes to a service
    # (hub/credentials.py): an Ed25519 private key; the services hold its public half.
    internal_signing_key: Annotated[str, DEV_SECRET] = Field(
        default=DEV_INTERNAL_SIGNING_KEY,
        description="Ed25519 key (base64 32-byte seed) signing the internal credential to the services; "
        "`hub keys internal` makes one and prints its HUB_INTERNAL_VERIFY_KEYS",
    )
    sms_webhook_token: Annotated[str, DEV_SECRET] = Field(
        default="dev-sms-webhook-token",
        description="Secret in the SMS provider's push URLs (/adapters/sms/receipts|inbound?token=…): "
        "the provider's pushes carry no signature",
    )
    # Named accounts (gateway/accounts/, docs/decisions/0010-named-accounts.md).
    access_token_ttl_s: int = Field(
        default=600, ge=30, le=3600, description="Lifetime of a person's access token (seconds)"
    )
    refresh_token_ttl_s: int = Field(
        default=43200, ge=300, le=30 * 86400, description="Lifetime of a person's refresh token (seconds)"
    )
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="Failed logins in a row after which an account is locked"
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, le=1440, description="How long an account stays locked after too many failures"
    )
    login_attempts_per_minute: int = Field(
        default=10, ge=1, description="Login attempts per minute for one username from one client address"
    )
    user_rate_limit_per_minute: int = Field(
        default=600, ge=1, description="API requests per minute of one signed-in person"
    )
    # Optional sign-in through an identity provider (统一身份认证, OpenID Connect; gateway/accounts/oidc.py).
    oidc_issuer: str | None = Field(
        default=None, description="The OpenID provider's issuer URL; unset: no OIDC sign-in"
    )
    oidc_client_id: str = Field(default="referral-hub", description="The hub's client id at the provider")
    oidc_client_secret: str = Field(default="", description="The hub's client secret at the provider")
    oidc_redirect_uri: str | None = Field(
        default=None,
        description="Our callback as registered at the provider: https://…/api/v1/auth/oidc/callback",
    )
    oidc_username_claim: str = Field(
        default="preferred_username", description="The ID token claim that names the hub account (username)"
    )
    oidc_scopes: str = Field(default="openid profile", description="Scopes asked of the provider")
    auth_required: bool = Field(
        default=True,
        description="Require a bearer token on /api/v1 (false trusts client-sent actor headers: dev and tests only)",
    )

    @field_validator("internal_signing_key")
    @classmethod
    def _signing_key_is_ed25519(cls, value: str) -> str:
        public_key_of(value)  # ValueError names what is wrong
        return value

    @model_validator(mode="after")
    def _oidc_needs_its_client(self) -> GatewaySettings:
        if self.oidc_issuer and not (self.oidc_redirect_uri and self.oidc_client_secret):
            raise ValueError("HUB_OIDC_ISSUER needs HUB_OIDC_REDIRECT_URI and HUB_OIDC_CLIENT_SECRET as well")
        return self

    # Edge limits (issue 14, docs/security.md): bodies per kind of path (the general API limit is the
    # shared HUB_MAX_BODY_BYTES), security headers, and what production closes.
    auth_max_body_bytes: int = Field(
        default=8 << 10, ge=256, description="Largest body of /api/v1/auth/* (the token endpoint, login)"
    )
    open311_max_body_bytes: int = Field(default=64 << 10, ge=1024, description="Largest body of /open311/*")
    adapter_max_body_bytes: int = Field(
        default=256 << 10, ge=1024, description="Largest body of an external system's push to /adapters/*"
    )
    behind_tls: bool = Field(
        default=False,
        description="Clients reach the gateway only over TLS (a terminating proxy): send HSTS on every answer",
    )
    hsts_max_age_s: int = Field(default=31_536_000, ge=0, description="max-age of Strict-Transport-Security")
    docs_enabled: bool | None = Field(
        default=None, description="Serve /docs, /redoc and /openapi.json (unset: yes, except in production)"
    )
    metrics_public: bool | None = Field(
        default=None,
        description="Serve /metrics without a token (unset: yes, except in production)",
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token that opens /metrics where it is not public (unset there: /metrics is 404)",
    )

    @property
    def docs_open(self) -> bool:
        return self.env is not Environment.prod if self.docs_enabled is None else self.docs_enabled

    @property
    def metrics_open(self) -> bool:
        return self.env is not Environment.prod if self.metrics_public is None else self.metrics_public

    @model_validator(mode="after")
    def _refuse_an_open_api_in_production(self) -> GatewaySettings:
        if self.env is Environment.prod and not self.auth_required:
            raise ValueError(
                "HUB_AUTH_REQUIRED=false is for development and tests only; production refuses it"
            )
        return self
