"""Pure logic of the ops views: stall classification and filters, statistics, early warning,
the monthly report, timeline gaps and the terminal tables."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from gateway.ops import report, signals, stats
from gateway.ops.stalls import Filters, attach_last_handoff, enrich, select_stalled
from gateway.timeline import with_gaps
from hubcli.ops import duration, stalled_table, timeline_table
from services.referral.domain.stalls import Candidate, OpenDeadline, classify

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
IDLE = timedelta(hours=24)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# --- stall classification (referral domain) --------------------------------------------------------


def test_a_referral_on_time_and_recently_touched_is_not_stalled() -> None:
    c = Candidate("r1", T0, (OpenDeadline("acknowledge", at(60), "none"),))
    assert classify(c, at(30), IDLE) is None


def test_past_a_deadline_counts_from_the_earliest_missed_one_with_the_highest_level() -> None:
    c = Candidate(
        "r1",
        at(0),
        (OpenDeadline("handling", at(600), "reminder"), OpenDeadline("acknowledge", at(60), "ordinary")),
    )
    stall = classify(c, at(150), IDLE)
    assert stall is not None
    assert (stall.kind, stall.stage, stall.since, stall.overdue_minutes) == (
        "deadline",
        "acknowledge",
        at(60),
        90,
    )
    assert stall.supervision_level == "ordinary"


def test_a_deadline_stall_wins_over_idleness() -> None:
    c = Candidate("r1", at(0), (OpenDeadline("acknowledge", at(60), "red_card"),))
    stall = classify(c, at(3 * 1440), IDLE)
    assert stall is not None and stall.kind == "deadline" and stall.supervision_level == "red_card"


def test_idle_counts_from_the_threshold() -> None:
    c = Candidate("r1", at(0), (OpenDeadline("handling", at(10 * 1440), "none"),))
    assert classify(c, at(1439), IDLE) is None
    stall = classify(c, at(1440 + 45), IDLE)
    assert stall is not None and (stall.kind, stall.overdue_minutes, stall.since) == ("idle", 45, at(0))
    assert stall.stage is None and stall.supervision_level == "none"
    bare = classify(Candidate("r2", at(0), ()), at(2000), IDLE)
    assert bare is not None and bare.supervision_level is None


# --- stalled list (gateway) ----------------------------------------------------------------------


def item(case_no: str, kind: str = "deadline", overdue: int = 10, **extra: Any) -> dict[str, Any]:
    return {
        "case_no": case_no,
        "kind": kind,
        "since": at(-overdue),
        "overdue_minutes": overdue,
        "department": "police_station@150203001000",
        "colour": "blue",
        "street_code": "150203001000",
        **extra,
    }


def test_filters_match_unit_code_or_department_type_street_prefix_colour_and_minimum() -> None:
    i = item("A")
    assert Filters(department="police_station@150203001000").keep(i)
    assert Filters(department="police_station").keep(i)
    assert not Filters(department="police").keep(i)
    assert not Filters(department="housing_bureau@150203").keep(i)
    assert Filters(street="150203").keep(i) and not Filters(street="150204").keep(i)
    assert Filters(colour="blue").keep(i) and not Filters(colour="red").keep(i)
    assert Filters(min_overdue_minutes=10).keep(i) and not Filters(min_overdue_minutes=11).keep(i)
    assert Filters(kind="deadline").keep(i) and not Filters(kind="sms").keep(i)
    assert not Filters(colour="blue").keep(item("B", colour=None))  # unknown colour: not a match


def test_worst_first_then_oldest() -> None:
    chosen = select_stalled([item("A", overdue=5), item("B", overdue=50), item("C", overdue=5)], Filters())
    assert [i["case_no"] for i in chosen] == ["B", "A", "C"]


def test_last_handoff_and_case_context_are_attached() -> None:
    items = [item("A", kind="sms", colour=None, street_code=None, trace_id=None), item("B", trace_id="t-b")]
    enrich(items, {"A": {"colour": "red", "street_code": "1502", "trace_id": "t-a", "state": "dispatched"}})
    assert items[0]["colour"] == "red" and items[0]["street_code"] == "1502" and items[0]["trace_id"] == "t-a"
    attach_last_handoff(items, {"B": {"event": "referral.dispatched.v1", "trace_id": "t-x"}})
    assert items[0]["last_handoff"] is None and items[1]["last_handoff"]["event"] == "referral.dispatched.v1"
    assert items[1]["trace_id"] == "t-b"  # the case's own trace is kept


# --- statistics ----------------------------------------------------------------------------------


def fact(**kw: Any) -> dict[str, Any]:
    base = {
        "case_no": "X",
        "registered_at": T0,
        "channel": "window",
        "category": "public_security",
        "colour": "blue",
        "street_code": "150203001000",
        "status": "dispatched",
        "dispatched": True,
        "lead_department": "police_station@150203001000",
        "reply_outcome": None,
        "satisfaction": None,
        "overdue": False,
    }
    return {**base, **kw}


def test_rates_are_fractions_and_none_without_a_denominator() -> None:
    facts = [
        fact(status="closed", reply_outcome="mediated", satisfaction="satisfied"),
        fact(status="closed", satisfaction="basically_satisfied"),
        fact(status="dispatched", satisfaction="dissatisfied", overdue=True),
        fact(
            category="labour", dispatched=False, status="registered", lead_department=None, street_code=None
        ),
    ]
    rows, total = stats.stats_by(facts, "category")
    assert total == {
        "received": 4,
        "dispatched": 3,
        "mediated": 1,
        "closed": 2,
        "overdue": 1,
        "rated": 3,
        "closure_rate": 0.5,
        "satisfaction_rate": 0.6667,
    }
    labour = next(r for r in rows if r["key"] == "labour")
    assert labour["closure_rate"] == 0.0 and labour["satisfaction_rate"] is None
    assert [r["key"] for r in stats.stats_by(facts, "department")[0]] == ["-", "police_station@150203001000"]
    assert stats.rate(0, 0) is None


def test_months_are_local_time() -> None:
    late_march_utc = datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 April in Beijing
    assert stats.month_of(late_march_utc) == "2026-04"
    assert stats.day_of(late_march_utc) == "2026-04-01"  # Beijing days, like months
    assert [
        r["key"] for r in stats.stats_by([fact(registered_at=late_march_utc.isoformat())], "month")[0]
    ] == ["2026-04"]
    start, end = stats.month_range("2026-12")
    assert (start.year, start.month, end.year, end.month) == (2026, 12, 2027, 1)
    assert start.utcoffset() == timedelta(hours=8)


def test_summary_counts_open_cases() -> None:
    s = stats.summary([fact(status="closed"), fact(status="merged"), fact(colour="red")])
    assert s["by_status"] == {"closed": 1, "dispatched": 1, "merged": 1} and s["open"] == 1
    assert s["by_colour"] == {"blue": 2, "red": 1}


# --- early warning -------------------------------------------------------------------------------


def sig(
    case_no: str, minutes: float, category: str = "noise", grid: str | None = "G1", key: str | None = None
) -> signals.Signal:
    return signals.Signal(case_no, at(minutes), category, "150203001000", grid, key)


def test_a_burst_needs_the_threshold_within_the_window() -> None:
    window = timedelta(minutes=60)
    spread = [sig("A", 0), sig("B", 61), sig("C", 122)]
    assert signals.bursts(spread, window, 3) == []
    dense = [sig("A", 0), sig("B", 30), sig("C", 60), sig("D", 200)]
    found = signals.bursts(dense, window, 3)
    assert {(a["scope"], a["area_code"], a["count"]) for a in found} == {
        ("grid", "G1", 3),
        ("street", "150203001000", 3),
    }
    assert found[0]["case_nos"] == ["A", "B", "C"]


def test_bursts_are_per_category() -> None:
    mixed = [sig("A", 0, "noise"), sig("B", 1, "water"), sig("C", 2, "noise")]
    assert signals.bursts(mixed, timedelta(hours=1), 3) == []


def test_repeat_reporters_by_key_and_anonymous_reports_ignored() -> None:
    rows = [
        sig("A", 0, key="k1"),
        sig("B", 10, "water", key="k1"),
        sig("C", 20, key="k1"),
        sig("D", 5),
        sig("E", 6),
    ]
    (alert,) = signals.repeat_reporters(rows, timedelta(days=30), 3)
    assert alert["reporter_key"] == "k1" and alert["count"] == 3 and alert["categories"] == ["noise", "water"]
    assert signals.repeat_reporters(rows, timedelta(minutes=15), 3) == []


# --- report, timeline, terminal ------------------------------------------------------------------


def test_report_has_chinese_headers_and_percentages() -> None:
    rows = report.report_rows(
        [("total", [{"key": "2026-03", **stats.stats_by([fact(status="closed")], "month")[1]}])]
    )
    data = report.to_csv(rows)
    assert data.startswith("\ufeff".encode())
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed[0][:3] == ["统计维度", "名称", "受理数"]
    assert parsed[1] == ["合计", "2026-03", "1", "1", "0", "1", "0", "100.0%", ""]


def row(at_: datetime, trace: str | None, event: str = "e") -> SimpleNamespace:
    return SimpleNamespace(
        at=at_,
        service="referral",
        event=event,
        actor={"service": "referral"},
        detail={},
        trace_id=trace,
        span_id="s",
    )


def test_timeline_gaps_and_linked_traces() -> None:
    entries = with_gaps([row(at(0), "root"), row(at(0.5), "root"), row(at(1440), "later")])
    assert [e["since_previous_ms"] for e in entries] == [None, 30_000, (1440 - 0.5) * 60_000]
    assert [e["linked_trace_id"] for e in entries] == [None, None, "root"]


def test_durations_read_like_people_write_them() -> None:
    assert duration(None) == "—"
    assert duration(1500) == "1.5s"
    assert duration(125_000) == "2m05s"
    assert duration(3_723_000) == "1h02m03s"
    assert duration(2 * 86_400_000 + 3 * 3_600_000) == "2d03h"


def test_tables_render_every_row() -> None:
    console = Console(width=400, record=True)
    console.print(
        timeline_table(
            "ZZ-1",
            [
                {
                    "at": "2026-03-02T01:00:00Z",
                    "service": "referral",
                    "event": "referral.supervision_raised.v1",
                    "actor": {"service": "referral", "role": "system"},
                    "detail": {"level": "ordinary"},
                    "trace_id": "t2",
                    "span_id": "s2",
                    "since_previous_ms": 86_400_000,
                    "linked_trace_id": "t1",
                }
            ],
        )
    )
    console.print(
        stalled_table([{**item("ZZ-1"), "since": "2026-03-02", "supervision_level": "red_card"}], 1)
    )
    text = console.export_text()
    assert "linked to t1" in text and "1d00h" in text and "system" in text
    assert "红牌督办" in text and "超时限" in text and "ZZ-1" in text
