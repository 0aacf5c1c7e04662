from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notification.domain.rate_limit import RateLimitPolicy, decide

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def minutes_ago(*minutes: int) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes]


def test_no_history_is_allowed() -> None:
    decision = decide([], NOW)
    assert decision.allowed and decision.not_before == NOW


def test_four_in_the_last_hour_is_allowed() -> None:
    assert decide(minutes_ago(50, 40, 30, 20), NOW).allowed


def test_fifth_in_an_hour_is_deferred_until_the_oldest_leaves_the_window() -> None:
    decision = decide(minutes_ago(50, 40, 30, 20, 10), NOW)
    assert not decision.allowed
    assert decision.not_before == NOW + timedelta(minutes=10)


def test_send_exactly_one_hour_ago_no_longer_counts() -> None:
    assert decide(minutes_ago(60, 40, 30, 20, 10), NOW).allowed


def test_old_sends_and_input_order_do_not_matter() -> None:
    history = minutes_ago(10, 300, 50, 30, 90, 40, 20)
    decision = decide(history, NOW)
    assert decision.not_before == NOW + timedelta(minutes=10)


def test_many_sends_defer_until_enough_have_left() -> None:
    decision = decide(minutes_ago(55, 50, 45, 40, 35, 30, 25), NOW)
    # Seven in the window: three must leave, the third oldest (45 minutes ago) leaves in 15.
    assert decision.not_before == NOW + timedelta(minutes=15)


def test_scheduled_sends_spread_a_deferred_batch() -> None:
    # Five messages already deferred by quiet hours to 08:00; a sixth must not join them.
    eight = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    scheduled = [eight] * 5
    decision = decide(scheduled, eight - timedelta(minutes=30))
    assert decision.not_before == eight + timedelta(hours=1)
    # A full hour before the batch is fine: the windows do not overlap.
    assert decide(scheduled, eight - timedelta(hours=1)).allowed


def test_custom_policy() -> None:
    policy = RateLimitPolicy(max_per_window=1, window=timedelta(minutes=10))
    decision = decide(minutes_ago(3), NOW, policy)
    assert decision.not_before == NOW + timedelta(minutes=7)


def test_result_keeps_the_callers_timezone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    now = NOW.astimezone(shanghai)
    decision = decide(minutes_ago(50, 40, 30, 20, 10), now)
    assert decision.not_before.tzinfo is shanghai
    assert decision.not_before == NOW + timedelta(minutes=10)


def test_rejects_naive_times_and_bad_policy() -> None:
    with pytest.raises(ValueError, match="aware"):
        decide([], datetime(2026, 11, 22, 10, 0))
    with pytest.raises(ValueError, match="aware"):
        decide([datetime(2026, 11, 22, 9, 0)], NOW)
    with pytest.raises(ValueError):
        RateLimitPolicy(max_per_window=0)
    with pytest.raises(ValueError):
        RateLimitPolicy(window=timedelta(0))


def _valid(times: list[int], limit: int, window: int) -> bool:
    # Every half-open window (end - window, end] holds at most `limit` sends.
    return all(sum(1 for s in times if end - window < s <= end) <= limit for end in times)


@given(
    sends=st.lists(st.integers(min_value=-120, max_value=120), max_size=12),
    limit=st.integers(min_value=1, max_value=4),
)
def test_result_is_the_earliest_valid_minute(sends: list[int], limit: int) -> None:
    window = 60
    policy = RateLimitPolicy(max_per_window=limit, window=timedelta(minutes=window))
    # Only meaningful when the existing schedule is itself within the limit.
    if not _valid(sends, limit, window):
        return
    decision = decide([NOW + timedelta(minutes=m) for m in sends], NOW, policy)
    chosen = (decision.not_before - NOW) // timedelta(minutes=1)
    assert decision.not_before == NOW + timedelta(minutes=chosen)
    assert decision.allowed == (chosen == 0)
    assert _valid([*sends, chosen], limit, window)
    assert not any(_valid([*sends, m], limit, window) for m in range(chosen))
