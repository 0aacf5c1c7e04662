"""Shared fixtures for the referral domain's unit tests: explicit times, the packaged data files."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.referral.data import read_data_file
from services.referral.domain.calendar import WorkingCalendar, YearSchedule, parse_year_schedule
from services.referral.domain.deadlines import ProcedureBook
from services.referral.domain.procedure_documents import load_procedures
from services.referral.domain.routing import (
    DepartmentRegistry,
    RoutingRules,
    load_registry,
    load_routing_rules,
)

SAMPLE_2027 = Path(__file__).parent / "data" / "schedule_2027_sample.yaml"


@pytest.fixture(scope="session")
def calendar() -> WorkingCalendar:
    """No schedules loaded: chinese_calendar for 2004–2026, weekends only elsewhere."""
    return WorkingCalendar()


@pytest.fixture(scope="session")
def schedule_2027() -> YearSchedule:
    return parse_year_schedule(SAMPLE_2027.read_text(encoding="utf-8"), source=SAMPLE_2027.name)


@pytest.fixture(scope="session")
def calendar_2027(schedule_2027: YearSchedule) -> WorkingCalendar:
    return WorkingCalendar([schedule_2027])


@pytest.fixture(scope="session")
def book() -> ProcedureBook:
    return load_procedures(read_data_file("procedures.yaml"))


@pytest.fixture(scope="session")
def registry() -> DepartmentRegistry:
    return load_registry(read_data_file("departments.yaml"))


@pytest.fixture(scope="session")
def rules(registry: DepartmentRegistry) -> RoutingRules:
    return load_routing_rules(read_data_file("routing.yaml"), registry)
