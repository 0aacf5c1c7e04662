"""What the referral service knows before any case arrives, loaded once at bootstrap from data files:
the department registry and routing rules, the deadline procedures, the holiday schedules, the
follow-up policy of closed cases (三色管理). Changing any of them is a data change, not a code change.
"""

from __future__ import annotations

import calendar as _monthcal
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from hub.datafile import (
    DataFileError,
    expect_code,
    expect_int,
    expect_mapping,
    expect_table,
    expect_version,
    parse_mapping,
)
from services.referral.data import read_data_file
from services.referral.domain.calendar import WorkingCalendar, business_tz, parse_year_schedule
from services.referral.domain.centres import CentreTree, load_centres
from services.referral.domain.deadlines import ProcedureBook
from services.referral.domain.grids import Grids, load_grids
from services.referral.domain.procedure_documents import load_procedures
from services.referral.domain.routing import (
    DepartmentRegistry,
    RoutingRules,
    load_registry,
    load_routing_rules,
)

log = logging.getLogger("hub.referral.config")


class Cadence(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


@dataclass(frozen=True)
class FollowUpRule:
    colour: str
    cadence: Cadence
    period_days: int

    def occurrence(self, closed_at: datetime, n: int) -> datetime:
        """The n-th follow-up (n ≥ 1) after closure, at the closure's Asia/Shanghai clock time."""
        if self.cadence is Cadence.daily:
            return closed_at + timedelta(days=n)
        if self.cadence is Cadence.weekly:
            return closed_at + timedelta(weeks=n)
        local = closed_at.astimezone(business_tz())
        months = local.month - 1 + n
        year, month = local.year + months // 12, months % 12 + 1
        day = min(local.day, _monthcal.monthrange(year, month)[1])
        return local.replace(year=year, month=month, day=day).astimezone(closed_at.tzinfo)

    def period_end(self, closed_at: datetime) -> datetime:
        return closed_at + timedelta(days=self.period_days)


@dataclass(frozen=True)
class FollowUpPolicy:
    rules: Mapping[str, FollowUpRule] = field(default_factory=dict)

    def for_colour(self, colour: str) -> FollowUpRule | None:
        return self.rules.get(colour)


def load_follow_ups(text: str) -> FollowUpPolicy:
    data = expect_mapping(parse_mapping(text, "followups"), "followups", required={"version", "follow_ups"})
    expect_version(data, "followups")
    rules: dict[str, FollowUpRule] = {}
    for colour, node in expect_table(data["follow_ups"], "followups.follow_ups").items():
        where = f"follow_ups.{colour}"
        if colour not in ("red", "orange", "yellow", "blue"):
            raise DataFileError(where, "expected a colour: red, orange, yellow or blue")
        fields = expect_mapping(node, where, required={"cadence", "period_days"})
        cadence_text = expect_code(fields["cadence"], f"{where}.cadence")
        try:
            cadence = Cadence(cadence_text)
        except ValueError:
            raise DataFileError(f"{where}.cadence", "expected daily, weekly or monthly") from None
        period = expect_int(fields["period_days"], f"{where}.period_days", minimum=1)
        rules[colour] = FollowUpRule(colour, cadence, period)
    return FollowUpPolicy(rules)


@dataclass(frozen=True)
class ReferralConfig:
    registry: DepartmentRegistry
    rules: RoutingRules
    book: ProcedureBook
    calendar: WorkingCalendar
    follow_ups: FollowUpPolicy
    centres: CentreTree = field(default_factory=lambda: load_centres(read_data_file("centres.yaml")))
    grids: Grids | None = None  # grids.yaml (网格) under the centres' communities; None: the packaged file

    @property
    def grid_registry(self) -> Grids:
        if self.grids is not None:
            return self.grids
        try:
            return load_grids(read_data_file("grids.yaml"), self.centres)
        except DataFileError:  # centres of a test's own making: the sample grids' communities are not in it
            return Grids({})

    @classmethod
    def load(cls, data_dir: Path | None = None, schedules_dir: Path | None = None) -> ReferralConfig:
        """The packaged data files, each replaced by one of the same name in ``data_dir`` if present."""

        def text(name: str) -> str:
            if data_dir is not None and (data_dir / name).is_file():
                return (data_dir / name).read_text(encoding="utf-8")
            return read_data_file(name)

        registry = load_registry(text("departments.yaml"))
        # The sample grids lie in the sample centres: a deployment's own centres.yaml without its own
        # grids.yaml has no grids (rather than the sample's, which would name unknown communities).
        own_centres = data_dir is not None and (data_dir / "centres.yaml").is_file()
        own_grids = data_dir is not None and (data_dir / "grids.yaml").is_file()
        grids_text = text("grids.yaml") if own_grids or not own_centres else "version: 1\ngrids: []\n"
        schedules = []
        if schedules_dir is not None:
            for path in sorted(schedules_dir.glob("*.y*ml")):
                schedules.append(parse_year_schedule(path.read_text(encoding="utf-8"), source=path.name))
        return cls(
            registry=registry,
            rules=load_routing_rules(text("routing.yaml"), registry),
            book=load_procedures(text("procedures.yaml")),
            calendar=WorkingCalendar(schedules),
            follow_ups=load_follow_ups(text("followups.yaml")),
            centres=(centres := load_centres(text("centres.yaml"), registry.areas)),
            grids=load_grids(grids_text, centres),
        )

    def warn_uncovered_years(self, now: datetime) -> list[int]:
        """Say loudly which of this year and next have no official schedule (deadlines there are
        provisional: weekends only, flagged, recomputed when the schedule is loaded)."""
        year = now.astimezone(business_tz()).year
        missing = [y for y in (year, year + 1) if not self.calendar.covers(y)]
        for y in missing:
            log.warning(
                "NO OFFICIAL HOLIDAY SCHEDULE FOR %d: deadlines in %d count weekends only and are "
                "flagged provisional; load the State Council's schedule (HUB_REFERRAL_SCHEDULES_DIR)",
                y,
                y,
            )
        return missing
