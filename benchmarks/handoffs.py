"""Handoff latencies from the spans every process writes, and whether a paced run kept up.

Pure functions of the spans file (`hub bench`'s latency runs write it): the moments of each case by
trace, the milliseconds per hop, and the test of a sustained rate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# Per-hop latency from the spans every process writes (start/end in ns, one clock on one machine).
HOPS = (
    "gateway→intake commit",
    "intake→referral dispatch",
    "referral→notification",
    "notification→provider (SMS)",
    "end to end",
)


def case_times(spans_file: Path) -> dict[str, dict[str, int]]:
    """Each case's moments (ns, one clock on one machine), by trace.

    t0 gateway receives the POST (its server span starts); t1 intake's POST handler returns (case
    and outbox row committed); t2 referral's consumer span for case.registered.v1 ends (dispatch
    committed); t3 notification's consumer span for the first referral.dispatched.v1 ends (the
    department notice committed); tn the span that queued the citizen's acceptance SMS ends (its
    parent: the lead department's referral.dispatched.v1, committed) and ts that SMS's send span ends
    (handed to the provider). End to end: t0 → the later of t3 and ts.
    """
    traces: dict[str, dict[str, int]] = {}
    ends: dict[str, int] = {}  # notification's handler spans, by span id
    queued_by: dict[str, str] = {}  # trace → the span id that queued its acceptance SMS
    for line in spans_file.read_text(encoding="utf-8").splitlines():
        span = json.loads(line)
        t = traces.setdefault(span["trace_id"], {})
        name, service, kind = span["name"], span["service"], span["kind"]
        key = None
        if service == "hub-gateway" and kind == "SERVER" and "/api/v1/cases" in name:
            t["t0"] = span["start_ns"]
        elif service == "hub-intake" and kind == "SERVER" and "/cases" in name:
            key = "t1"
        elif service == "hub-referral" and name.endswith("handle case.registered.v1"):
            key = "t2"
        elif service == "hub-notification" and name.endswith("handle referral.dispatched.v1"):
            key = "t3"
            ends[span["span_id"]] = span["end_ns"]
        elif service == "hub-notification" and kind == "CLIENT" and name == "sms send case_accepted":
            key = "ts"
            queued_by[span["trace_id"]] = span["parent_span_id"]
        if key is not None:
            t[key] = min(t.get(key, span["end_ns"]), span["end_ns"])
    for trace_id, parent in queued_by.items():
        if parent in ends:
            traces[trace_id]["tn"] = ends[parent]
    return traces


def hop_latencies(traces: dict[str, dict[str, int]]) -> dict[str, list[float]]:
    """Milliseconds per hop for every case whose trace is complete."""
    pairs = {
        HOPS[0]: ("t0", "t1"),
        HOPS[1]: ("t1", "t2"),
        HOPS[2]: ("t2", "t3"),
        HOPS[3]: ("tn", "ts"),
    }
    out: dict[str, list[float]] = {hop: [] for hop in HOPS}
    for t in traces.values():
        for hop, (a, b) in pairs.items():
            if a in t and b in t:
                out[hop].append((t[b] - t[a]) / 1e6)
        if all(k in t for k in ("t0", "t3", "ts")):
            out[HOPS[4]].append((max(t["t3"], t["ts"]) - t["t0"]) / 1e6)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Paced:
    """A paced run: p50/p99/n per hop, and whether the hub kept up with the pace."""

    rate: float
    hops: dict[str, tuple[float, float, int]]
    first_p50: float  # end to end, ms, the first quarter of the cases by posting time
    last_p50: float  # the same for the last quarter
    posting_s: float  # how long the posts took
    planned_s: float  # how long they should have taken at `rate`

    @property
    def kept_up(self) -> bool:
        """Sustained: the posts kept to the pace and no backlog built up over the run.

        Below the hub's capacity the latency is stationary; above it every case waits behind the
        backlog of the cases before it, so the last quarter's median grows with the run's length
        (seconds after 20 s) while the first quarter's stays near the unloaded figure.
        """
        return self.posting_s <= 1.1 * self.planned_s + 1.0 and self.last_p50 <= 2 * self.first_p50 + 100


def paced_figures(
    rate: float, traces: dict[str, dict[str, int]], posting_s: float, planned_s: float
) -> Paced:
    hops = hop_latencies(traces)
    series = sorted(
        (t["t0"], (max(t["t3"], t["ts"]) - t["t0"]) / 1e6)
        for t in traces.values()
        if all(k in t for k in ("t0", "t3", "ts"))
    )
    quarter = max(1, len(series) // 4)
    first = [ms for _t0, ms in series[:quarter]]
    last = [ms for _t0, ms in series[-quarter:]]
    return Paced(
        rate,
        {hop: (pct(v, 0.5), pct(v, 0.99), len(v)) if v else (0.0, 0.0, 0) for hop, v in hops.items()},
        pct(first, 0.5) if first else 0.0,
        pct(last, 0.5) if last else 0.0,
        posting_s,
        planned_s,
    )
