"""Referral-only settings (HUB_REFERRAL_*), read beside the kit's Settings at bootstrap."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ReferralSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_REFERRAL_", extra="ignore", frozen=True)

    schedules_dir: Path | None = Field(
        default=None,
        description="Directory of official holiday schedules (one YAML per year, 国务院办公厅通知) that "
        "override or extend the chinese_calendar package",
    )
    data_dir: Path | None = Field(
        default=None,
        description="Directory with departments.yaml / routing.yaml / procedures.yaml / followups.yaml / centres.yaml "
        "replacing the packaged ones (each file optional)",
    )
    watchdog_enabled: bool = Field(default=True, description="Run the deadline watchdog in this process")
    watchdog_interval_s: float = Field(default=1.0, gt=0, description="Watchdog poll interval")
    watchdog_batch: int = Field(default=500, ge=1, description="Deadlines claimed per watchdog round")
    channel_returns: tuple[str, ...] = Field(
        default=("hotline12345",),
        description="Channels a case can be given back to by the centre (回退, POST …/return-to-channel); "
        "the gateway tells the channel (12345: feedbackType 7)",
    )
    stats_range_default_days: int = Field(
        default=366,
        ge=1,
        description="Days of closings /stats/resolution-levels counts when no range is given",
    )
    stats_range_max_days: int = Field(
        default=1098, ge=31, le=3660, description="Widest from–to /stats/resolution-levels accepts (days)"
    )
    task_snooze_max_days: int = Field(
        default=90, ge=1, description="Longest a worklist task may be snoozed (put off), in days"
    )
    weak_signal_tasks: bool = Field(
        default=True,
        description="Turn early-warning signals (bursts, repeat reporters) into worklist tasks as cases arrive",
    )

    @model_validator(mode="after")
    def _default_within_maximum(self) -> ReferralSettings:
        if self.stats_range_default_days > self.stats_range_max_days:
            raise ValueError(
                "HUB_REFERRAL_STATS_RANGE_DEFAULT_DAYS must not exceed HUB_REFERRAL_STATS_RANGE_MAX_DAYS"
            )
        return self
