"""Settings only the notification service reads (HUB_*, names unchanged): the SMS providers, Aliyun
and SMPP, and the port of the SMS simulator `hub up --simulators` starts.

A subclass of the kit's shared Settings, so the service's process validates both at start.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from hub.config import DevSecret, ServiceSettings

# SMS provider adapters selectable by HUB_SMS_PROVIDERS (services/notification/sms/).
SMS_PROVIDERS = ("aliyun", "smpp")

# A provider's development credentials are refused in production only where that provider is used.
_used_with_aliyun = DevSecret(needed=lambda s: "aliyun" in s.sms_providers)
_used_with_smpp = DevSecret(needed=lambda s: "smpp" in s.sms_providers)


class NotificationSettings(ServiceSettings):
    sim_sms_port: int = Field(
        default=8101, description="Port of the SMS simulator started by `hub up --simulators`"
    )
    sms_url: str = "http://127.0.0.1:8101"
    sms_sign_name: str = "昆都仑区综治中心"
    sms_access_key_id: str = "dev-access-key"
    sms_access_key_secret: Annotated[str, _used_with_aliyun] = Field(
        default="dev-access-secret",  # refused in production while aliyun is a provider
        description="Our AccessKey secret at Alibaba Cloud SMS (signs our requests)",
    )
    sms_providers: tuple[str, ...] = Field(
        default=("aliyun",),
        description="SMS providers in failover order (JSON list): aliyun, smpp",
    )
    smpp_host: str = Field(default="127.0.0.1", description="SMPP gateway (SMSC) host")
    smpp_port: int = Field(default=2775, ge=1, le=65535, description="SMPP gateway (SMSC) port")
    smpp_system_id: str = Field(default="hub", description="SMPP bind system_id (account)")
    smpp_password: Annotated[str, _used_with_smpp] = Field(
        default="dev-smpp",  # refused in production while smpp is a provider
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

    # SMS verification codes for the citizen QR form (issue 18, services/notification/verification.py).
    verification_ttl_s: int = Field(
        default=300, ge=30, le=3600, description="How long an SMS verification code stays valid (seconds)"
    )
    verification_max_attempts: int = Field(
        default=5, ge=1, le=20, description="Checks of one verification code before it is used up"
    )
    verification_resend_s: int = Field(
        default=60, ge=1, le=3600, description="Seconds before the same mobile may ask for another code"
    )
    verification_per_phone_per_hour: int = Field(
        default=5, ge=1, le=100, description="Verification codes one mobile may ask for in an hour"
    )

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
