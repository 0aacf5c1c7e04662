from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from services.notification.domain.quiet_hours import QuietHoursPolicy, is_quiet, send_not_before

SH = ZoneInfo("Asia/Shanghai")


def local(day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=SH)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(22, 20, 59), local(22, 20, 59)),
        (local(22, 20, 59, 59, 999_999), local(22, 20, 59, 59, 999_999)),
        (local(22, 21, 0), local(23, 8, 0)),
        (local(22, 23, 30), local(23, 8, 0)),
        (local(23, 0, 0), local(23, 8, 0)),
        (local(23, 7, 59), local(23, 8, 0)),
        (local(23, 8, 0), local(23, 8, 0)),
        (local(23, 12, 0), local(23, 12, 0)),
    ],
)
def test_citizen_quiet_hours_defer_to_eight(now: datetime, expected: datetime) -> None:
    assert send_not_before(now, "blue", "citizen") == expected


@pytest.mark.parametrize("colour", ["red", "RED", " red "])
def test_red_cases_are_exempt(colour: str) -> None:
    assert send_not_before(local(22, 21, 0), colour, "citizen") == local(22, 21, 0)
    assert send_not_before(local(23, 3, 0), colour, "citizen") == local(23, 3, 0)


@pytest.mark.parametrize("colour", ["orange", "yellow", "blue", None])
def test_other_colours_and_unknown_colour_are_deferred(colour: str | None) -> None:
    assert send_not_before(local(23, 3, 0), colour, "citizen") == local(23, 8, 0)


def test_departments_are_never_deferred() -> None:
    assert send_not_before(local(23, 3, 0), "blue", "department") == local(23, 3, 0)


def test_utc_in_utc_out() -> None:
    now = datetime(2026, 11, 22, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai
    result = send_not_before(now, "yellow", "citizen")
    assert result == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert result.tzinfo is UTC


def test_year_end_rolls_over() -> None:
    now = datetime(2026, 12, 31, 22, 0, tzinfo=SH)
    assert send_not_before(now, "blue", "citizen") == datetime(2027, 1, 1, 8, 0, tzinfo=SH)


def test_configurable_window() -> None:
    policy = QuietHoursPolicy(start=time(22, 0), end=time(7, 0))
    assert send_not_before(local(22, 21, 30), None, "citizen", policy) == local(22, 21, 30)
    assert send_not_before(local(22, 22, 0), None, "citizen", policy) == local(23, 7, 0)
    assert send_not_before(local(23, 6, 59), None, "citizen", policy) == local(23, 7, 0)


def test_window_not_crossing_midnight() -> None:
    policy = QuietHoursPolicy(start=time(12, 0), end=time(14, 0))
    assert send_not_before(local(22, 11, 59), None, "citizen", policy) == local(22, 11, 59)
    assert send_not_before(local(22, 12, 0), None, "citizen", policy) == local(22, 14, 0)
    assert send_not_before(local(22, 14, 0), None, "citizen", policy) == local(22, 14, 0)


def test_equal_start_and_end_means_no_quiet_hours() -> None:
    policy = QuietHoursPolicy(start=time(0, 0), end=time(0, 0))
    assert not is_quiet(local(23, 3, 0), policy)
    assert send_not_before(local(23, 3, 0), None, "citizen", policy) == local(23, 3, 0)


def test_exempt_colours_are_configurable() -> None:
    policy = QuietHoursPolicy(exempt_colours=frozenset({"red", "orange"}))
    assert send_not_before(local(23, 3, 0), "orange", "citizen", policy) == local(23, 3, 0)


def test_rejects_naive_time_and_unknown_recipient() -> None:
    with pytest.raises(ValueError, match="aware"):
        send_not_before(datetime(2026, 11, 22, 21, 0), None, "citizen")
    with pytest.raises(ValueError, match="recipient_kind"):
        send_not_before(local(22, 21, 0), None, "grid_worker")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="local wall-clock"):
        QuietHoursPolicy(start=time(21, 0, tzinfo=UTC))
