"""Quiet hours and the rate limit together: the earliest instant a message may go out (pure)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.config import Environment, Settings
from services.notification.domain.rate_limit import RateLimitPolicy
from services.notification.domain.scheduling import NO_QUIET_HOURS, SendingPolicy, earliest_send
from services.notification.main import default_policy

BEIJING = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING).astimezone(UTC)


def test_daytime_with_no_history_is_now() -> None:
    assert earliest_send(at("2026-11-23 10:00"), "blue", "citizen", []) == at("2026-11-23 10:00")


def test_night_defers_citizens_to_0800_but_not_red_cases_or_departments() -> None:
    night = at("2026-11-22 23:00")
    assert earliest_send(night, "blue", "citizen", []) == at("2026-11-23 08:00")
    assert earliest_send(night, "red", "citizen", []) == night
    assert earliest_send(night, "blue", "department", []) == night


def test_a_rate_limit_deferral_that_lands_in_the_night_moves_on_to_the_morning() -> None:
    now = at("2026-11-22 20:30")
    sends = [now - timedelta(minutes=m) for m in range(5)]  # five in the last few minutes
    # The window frees at ~21:26, inside quiet hours: the message waits for 08:00.
    assert earliest_send(now, "blue", "citizen", sends) == at("2026-11-23 08:00")


def test_messages_already_scheduled_for_0800_spread_the_next_ones() -> None:
    policy = SendingPolicy(rate_limit=RateLimitPolicy(max_per_window=2))
    morning = at("2026-11-23 08:00")
    assert earliest_send(at("2026-11-22 23:00"), "blue", "citizen", [morning, morning], policy) == at(
        "2026-11-23 09:00"
    )


def test_no_quiet_hours_by_default_only_in_the_test_environment() -> None:
    night = at("2026-11-22 23:00")
    assert default_policy(Settings(env=Environment.test)).quiet_hours == NO_QUIET_HOURS
    assert (
        earliest_send(night, "blue", "citizen", [], default_policy(Settings(env=Environment.test))) == night
    )
    dev = default_policy(Settings(env=Environment.dev))
    assert earliest_send(night, "blue", "citizen", [], dev) == at("2026-11-23 08:00")
