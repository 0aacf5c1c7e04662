"""The date range a statistics read covers (issue 16: every read bounded), resolved before anything is
read: the gateway's /ops/summary and /ops/stats (registration time), referral's
/stats/resolution-levels (closing time).

`from` and `to` (`[from, to)`), as /ops/stats has always taken them:
- neither: the last `default` up to now;
- only `from`: `default` from then; only `to`: `default` up to then (Open311's rule for its own range,
  gateway/open311/routes.py, so both public reads behave alike);
- both: as given, at most `maximum` apart.
An inverted or too wide range is refused (422, the parameter named) and nothing is read: a wide range
is what reads every case ever, and the services behind cannot tell a report from a scraper.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.problems import Problem


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"from": self.start, "to": self.end}


def resolve(
    start: datetime | None,
    end: datetime | None,
    *,
    now: datetime,
    default: timedelta,
    maximum: timedelta,
    setting: str = "HUB_OPS_RANGE_MAX_DAYS",
) -> Range:
    """`setting` names the maximum's environment variable in the refusal, so an operator knows what to change."""
    if start is None:
        end = end or now
        start = end - default
    elif end is None:
        end = start + default
    if end <= start:
        raise _refused(
            "to", f"to（{end.isoformat()}）应晚于 from（{start.isoformat()}）", "must be after from"
        )
    if end - start > maximum:
        days = maximum.days
        raise _refused(
            "from",
            f"统计区间最长 {days} 天（{setting}），from 至 to 为 {_days(end - start)} 天；请缩小区间",
            f"at most {days} days before to",
        )
    return Range(start, end)


def _days(span: timedelta) -> str:
    return f"{span.total_seconds() / 86400:.1f}".removesuffix(".0")


def _refused(field: str, detail: str, message: str) -> Problem:
    return Problem(
        422, "统计区间不正确", detail, type_="validation-error", errors=[{"field": field, "message": message}]
    )
