"""Official schedules as data: the file format, its validation, and loading into a calendar."""

from __future__ import annotations

import json
from datetime import date

import pytest

from hub.datafile import DataFileError
from services.referral.domain.calendar import (
    ScheduleError,
    WorkingCalendar,
    YearSchedule,
    parse_year_schedule,
)

from .helpers import sh

FULL = """
year: 2027
source: 国务院办公厅关于2027年部分节假日安排的通知（样例）
holidays:
  - 2027-01-01
  - {from: 2027-02-06, to: 2027-02-13, name: 春节}
  - "2027-05-01"
workdays:
  - 2027-02-20
"""


def test_sample_2027_file(schedule_2027: YearSchedule) -> None:
    assert schedule_2027.year == 2027
    assert schedule_2027.holidays == {date(2027, 1, 1)}
    assert schedule_2027.makeup_workdays == frozenset()
    assert "2027" in schedule_2027.source


def test_ranges_quoted_dates_and_makeup_days() -> None:
    schedule = parse_year_schedule(FULL, source="2027.yaml")
    assert len(schedule.holidays) == 1 + 8 + 1
    assert date(2027, 2, 9) in schedule.holidays
    assert schedule.makeup_workdays == {date(2027, 2, 20)}
    assert schedule.source.startswith("国务院办公厅")  # the document's own source wins
    assert schedule.is_workday(date(2027, 2, 20))  # a Saturday that is worked
    assert not schedule.is_workday(date(2027, 2, 8))  # a Monday in the holiday
    assert schedule.is_workday(date(2027, 2, 15))


def test_json_is_accepted_and_the_argument_names_the_source() -> None:
    text = json.dumps({"year": 2028, "holidays": ["2028-01-03"], "workdays": []})
    schedule = parse_year_schedule(text, source="schedule-2028.json")
    assert schedule.holidays == {date(2028, 1, 3)}
    assert schedule.source == "schedule-2028.json"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("year: 2027\nholidays: [2026-12-31]", "2026-12-31 is not in 2027"),
        ("year: 2027\nholidays: []\nworkdays: [2027-01-04]", "must be weekend days: 2027-01-04"),
        ("year: 2027\nholidays: [2027-02-06]\nworkdays: [2027-02-06]", "both as holiday and as make-up"),
        ("year: 2027\nholiday: [2027-01-01]", "missing key(s): holidays"),
        ("year: 2027\nholidays: []\nworkday: []", "unknown key(s): workday"),
        ("holidays: [2027-01-01]", "missing key(s): year"),
        ("year: 2027\nholidays: [2027-01-01 08:00:00]", "without a time"),
        ("year: 2027\nholidays: [2027-13-01]", "month must be in 1..12"),
        ("year: 2027\nholidays: ['1 Jan']", "expected a date like 2027-01-01"),
        ("year: 2027\nholidays: [{from: 2027-02-13, to: 2027-02-06}]", "before it starts"),
        ("year: 2027\nholidays: [{from: 2027-01-01, to: 2027-12-31}]", "longer than a month"),
        ("year: 2027\nholidays: [2027-01-01, 2027-01-01]", "more than once"),
        ("year: '2027'\nholidays: []", "expected an integer"),
        ("year: 2027\nholidays: 2027-01-01", "expected a list"),
        ("- 2027-01-01", "top level"),
        ("year: [2027\n", "not valid YAML"),
    ],
)
def test_malformed_schedules_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(DataFileError) as caught:
        parse_year_schedule(text)
    assert message in str(caught.value)


def test_a_year_loaded_twice_is_refused(schedule_2027: YearSchedule) -> None:
    with pytest.raises(ScheduleError, match="loaded twice"):
        WorkingCalendar([schedule_2027, schedule_2027])


def test_with_schedule_replaces_the_year(calendar_2027: WorkingCalendar) -> None:
    corrected = parse_year_schedule("year: 2027\nholidays: [2027-01-01, 2027-01-04]", source="fix")
    updated = calendar_2027.with_schedule(corrected)
    assert not updated.is_workday(date(2027, 1, 4))
    assert calendar_2027.is_workday(date(2027, 1, 4))  # the original calendar is unchanged
    assert updated.add_working_days(sh(2026, 12, 31, 9), 1).due == sh(2027, 1, 5, 9)
    assert [s.source for s in updated.schedules] == ["fix"]
