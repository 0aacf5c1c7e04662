"""Working-day deadlines through the service, with a frozen clock, across the 2026 holidays.

2026 (chinese_calendar 1.11.0): Spring Festival Sun 02-15 … Mon 02-23 off, make-up working Saturdays
02-14 and 02-28; Mid-Autumn Fri 09-25 … Sun 09-27 off; National Day Thu 10-01 … Wed 10-07 off,
make-up working Sun 09-20 and Sat 10-10.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.referral.clock import ManualClock
from services.referral.domain.calendar import parse_year_schedule
from tests.integration.test_referral_flow import (
    FACILITIES,
    HOUSING,
    POLICE,
    SECURITY,
    Api,
    at,
    by_department,
    outbox_events,
    sh,
    start_hub,
    watchdog,
)
from tests.kit.inprocess import InProcessHub

SAMPLE_2027 = Path(__file__).resolve().parents[1] / "unit" / "referral" / "data" / "schedule_2027_sample.yaml"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(sh(2026, 2, 13, 10, 0))  # Friday before the Spring Festival


@pytest.fixture
async def hub(
    spans: InMemorySpanExporter,
    backend: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[InProcessHub]:
    async for running in start_hub(backend, tmp_path, clock, monkeypatch):
        yield running


async def test_three_working_days_across_the_spring_festival_land_on_the_right_day_and_hour(
    hub: InProcessHub, clock: ManualClock
) -> None:
    api = Api(hub)
    case_no = await api.register(SECURITY)  # police station alone: immediate, 3 working days
    referral = (await api.dispatched(case_no))["referrals"][0]
    assert at(referral["dispatched_at"]) == sh(2026, 2, 13, 10, 0)
    # 1 working day: Saturday 02-14 is a make-up working day.
    assert at(referral["ack_due_at"]) == sh(2026, 2, 14, 10, 0)
    # Sat 02-14 (1), holiday 02-15..02-23, Tue 02-24 (2), Wed 02-25 (3): same clock time.
    assert at(referral["due_at"]) == sh(2026, 2, 25, 10, 0)
    assert at(referral["return_until"]) == sh(2026, 2, 24, 10, 0)
    assert not referral["deadline_provisional"]

    clock.set(sh(2026, 2, 13, 10, 30))
    await api.ok(referral["id"], "acknowledge", department=POLICE)
    # The reminder (80% of 3 working days = 2.4) falls after the holiday, never inside it:
    # 02-24 10:00 is 2 working days, + 0.4 × 24 h = 02-24 19:36.
    clock.set(sh(2026, 2, 23, 23, 59))
    await watchdog(hub).tick()
    clock.set(sh(2026, 2, 24, 19, 35))
    await watchdog(hub).tick()
    assert await outbox_events(hub, "referral.supervision_raised.v1", case_no) == []
    clock.set(sh(2026, 2, 24, 19, 36))
    await watchdog(hub).tick()
    clock.set(sh(2026, 2, 25, 10, 0))
    await watchdog(hub).tick()
    raised = await outbox_events(hub, "referral.supervision_raised.v1", case_no)
    assert [(e["level"], at(e["due_at"])) for e in raised] == [
        ("reminder", sh(2026, 2, 25, 10, 0)),
        ("ordinary", sh(2026, 2, 25, 10, 0)),
    ]
    # Yellow card one working day past: Thu 02-26 10:00; red card three: Sat 02-28 (make-up day) 10:00.
    clock.set(sh(2026, 2, 26, 10, 0))
    await watchdog(hub).tick()
    clock.set(sh(2026, 2, 28, 9, 59))
    await watchdog(hub).tick()
    assert [e["level"] for e in await outbox_events(hub, "referral.supervision_raised.v1", case_no)][-1] == (
        "yellow_card"
    )
    clock.set(sh(2026, 2, 28, 10, 0))
    await watchdog(hub).tick()
    raised = await outbox_events(hub, "referral.supervision_raised.v1", case_no)
    assert [e["level"] for e in raised] == ["reminder", "ordinary", "yellow_card", "red_card"]
    assert [e["overdue"] for e in raised] == [0, 0, 1, 3]


async def test_three_working_days_across_national_day_end_on_the_make_up_saturday(
    hub: InProcessHub, clock: ManualClock
) -> None:
    clock.set(sh(2026, 9, 30, 15, 30))  # Wednesday, the last working day before the holiday
    api = Api(hub)
    case_no = await api.register(SECURITY)
    referral = (await api.dispatched(case_no))["referrals"][0]
    assert at(referral["ack_due_at"]) == sh(2026, 10, 8, 15, 30)  # the holiday does not count
    # Thu 10-08 (1), Fri 10-09 (2), Sat 10-10 make-up working day (3).
    assert at(referral["due_at"]) == sh(2026, 10, 10, 15, 30)

    # Mid-Autumn: dispatched Thu 09-24 09:00, the holiday Fri 09-25..Sun 09-27 does not count.
    clock.set(sh(2026, 9, 24, 9, 0))
    other = await api.register(SECURITY)
    referral = (await api.dispatched(other))["referrals"][0]
    assert at(referral["ack_due_at"]) == sh(2026, 9, 28, 9, 0)
    assert at(referral["due_at"]) == sh(2026, 9, 30, 9, 0)


async def test_seven_working_days_with_an_extension_across_the_spring_festival(
    hub: InProcessHub, clock: ManualClock
) -> None:
    clock.set(sh(2026, 2, 10, 16, 0))  # Tuesday
    api = Api(hub)
    case_no = await api.register(FACILITIES)  # three departments: time-limited, 7 working days
    lead = by_department(await api.dispatched(case_no, 3), HOUSING)
    # Wed 02-11 (1), Thu (2), Fri (3), Sat 02-14 (4), holiday, Tue 02-24 (5), Wed (6), Thu 02-26 (7).
    assert at(lead["due_at"]) == sh(2026, 2, 26, 16, 0)
    await api.ok(lead["id"], "acknowledge", department=HOUSING)
    await api.ok(lead["id"], "extension", {"working_days": 2, "reason": "节后复工再勘查"}, department=HOUSING)
    decided = await api.act(
        lead["id"], "extension/decision", {"approved": True}, role="centre", department=None
    )
    # + Fri 02-27 (8), Sat 02-28 make-up working day (9).
    assert at(decided.json()["referral"]["due_at"]) == sh(2026, 2, 28, 16, 0)


async def test_a_year_without_an_official_schedule_is_counted_on_weekends_and_flagged(
    hub: InProcessHub, clock: ManualClock
) -> None:
    clock.set(sh(2026, 12, 28, 10, 0))  # Monday; 7 working days reach into 2027, which nobody published yet
    api = Api(hub)
    case_no = await api.register(FACILITIES)
    state = await api.dispatched(case_no, 3)
    lead = by_department(state, HOUSING)
    assert lead["deadline_provisional"]
    handling = next(d for d in lead["deadlines"] if d["kind"] == "handling")
    assert handling["provisional"] and handling["provisional_years"] == [2027]
    # Weekends only: Tue 12-29 … Thu 12-31 (3, 2026 from the package), Fri 2027-01-01 (4, not known
    # to be a holiday), Mon 01-04 (5), Tue (6), Wed 01-06 (7).
    assert at(lead["due_at"]) == sh(2027, 1, 6, 10, 0)
    acknowledge = next(d for d in lead["deadlines"] if d["kind"] == "acknowledge")
    assert not acknowledge["provisional"]  # Tue 12-29, inside the known year
    (event,) = [e for e in await outbox_events(hub, "referral.dispatched.v1", case_no) if e["role"] == "lead"]
    assert event["deadline_provisional"]

    # The State Council publishes 2027 (here a sample: only New Year's Day): the flagged deadline is
    # recomputed — 2027-01-01 no longer counts, so it moves to Thursday — and is no longer flagged.
    schedule = parse_year_schedule(SAMPLE_2027.read_text(encoding="utf-8"), source=SAMPLE_2027.name)
    schedules = hub.apps["referral"].app.state.usecases.schedules
    async with hub.runtime("referral").db.transaction() as session:
        assert await schedules.load(session, schedule) == 3  # each of the three referrals
    lead = by_department(await api.state(case_no), HOUSING)
    assert at(lead["due_at"]) == sh(2027, 1, 7, 10, 0) and not lead["deadline_provisional"]
    handling = next(d for d in lead["deadlines"] if d["kind"] == "handling")
    assert not handling["provisional"] and handling["provisional_years"] == []
