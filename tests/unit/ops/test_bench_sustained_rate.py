"""`hub bench --sustained` calls a paced rate sustained only if the hub kept up with it.

Paced above its capacity the hub's queues grow for as long as the run lasts, so its latency figures
measure the run's length, not the hub: such a rate must not be reported as sustained.
"""

from __future__ import annotations

from benchmarks.handoffs import paced_figures

MS = 1_000_000  # ns


def _traces(latencies_ms: list[float], every_ms: float = 100) -> dict[str, dict[str, int]]:
    """One complete trace per case, posted `every_ms` apart, each ending `latency` after its post."""
    traces = {}
    for i, latency in enumerate(latencies_ms):
        t0 = int(i * every_ms * MS)
        end = t0 + int(latency * MS)
        traces[f"trace-{i}"] = {
            "t0": t0,
            "t1": t0 + 5 * MS,
            "t2": t0 + 10 * MS,
            "t3": end,
            "tn": t0 + 6 * MS,
            "ts": end - MS,
        }
    return traces


def test_a_stationary_latency_at_the_planned_pace_is_sustained() -> None:
    latencies = [60 + (i * 37) % 50 for i in range(200)]  # 60–110 ms, no trend
    paced = paced_figures(10, _traces(latencies), posting_s=19.95, planned_s=19.9)
    assert paced.kept_up
    assert paced.hops["end to end"][2] == 200


def test_a_backlog_growing_through_the_run_is_not_sustained() -> None:
    latencies = [60 + 25 * i for i in range(200)]  # each case waits behind the ones before it
    paced = paced_figures(20, _traces(latencies, every_ms=50), posting_s=10.0, planned_s=9.95)
    assert not paced.kept_up
    assert paced.last_p50 > 5 * paced.first_p50  # the growth the row reports


def test_posts_that_fell_behind_the_pace_are_not_sustained() -> None:
    latencies = [80.0] * 200  # steady only because the posts themselves could not keep the pace
    paced = paced_figures(30, _traces(latencies), posting_s=14.0, planned_s=6.6)
    assert not paced.kept_up
