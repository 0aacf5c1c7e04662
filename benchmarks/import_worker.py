"""CPU a work order in intake's import worker (the back-fill's limit, TARGETS.md performance 4).

The 10^6 back-fill is bound by the one process that validates, classifies and grades each work order
(services/intake/bulk.py `prepare`). This measures that work in-process, stage by stage, on the same
simulated 12345 history the back-fill bench imports, as CPU time (min and median of the repeats), with
a baseline from the same run: decoding the batch's JSON body with orjson, which any import must do. The
ratio to it is steadier than the figure itself on a VM whose speed drifts between runs.

    python -m benchmarks.import_worker                 # 3,000 work orders, 7 repeats
    python -m benchmarks.import_worker --record        # and add the row to RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from gateway.adapters.hotline12345 import mapping
from gateway.adapters.hotline12345.simulator import work_order
from gateway.adapters.hotline12345.sync.backfill import _history_item
from gateway.adapters.simkit import SimState
from services.intake import bulk
from services.intake.assessment import Assessor
from services.intake.domain.model import CaseIn
from services.intake.settings import IntakeSettings

from .backfill import _commit
from .results import append_row

SECTION = "## Import worker: CPU a work order (back-fill's limit)"
HEADER = (
    "| date (UTC) | machine | commit | work orders × repeats | baseline: orjson decode | prepare, all "
    "| validate | classify (jieba) | read the words | grade (rules + text model) | prepare ÷ baseline |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def history_body(count: int, seed: int = 7) -> bytes:
    """The bulk import's body for `count` work orders, as the back-fill sends it."""
    state = SimState("history", "unused", rng=random.Random(seed))
    statuses = (4, 4, 4, 3, 2)
    orders = [
        mapping.WorkOrder.model_validate(work_order(state, status=statuses[i % 5], orderNo=f"GDH{i:09d}"))
        for i in range(count)
    ]
    return orjson.dumps({"items": [_history_item(order) for order in orders]})


def cpu_ms(work: Callable[[], Any], per: int, repeats: int) -> tuple[float, float]:
    """(min, median) CPU milliseconds of `work` divided by `per`."""
    work()  # warm: caches, lazily built tables
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append((time.process_time() - start) * 1000 / per)
    return min(times), statistics.median(times)


def measure(count: int, repeats: int) -> dict[str, tuple[float, float]]:
    body = history_body(count)
    raw = list(enumerate(orjson.loads(body)["items"]))
    settings = IntakeSettings()
    assessor = Assessor.from_packaged_rules()
    assessor.warm()
    cases = [CaseIn.model_validate(data["case"]) for _, data in raw]
    categories = [assessor.classify(c.title, c.description)[0] for c in cases]
    return {
        "baseline": cpu_ms(lambda: orjson.loads(body), count, repeats),
        "prepare": cpu_ms(lambda: bulk.prepare(settings, assessor, raw), count, repeats),
        "validate": cpu_ms(lambda: bulk.parse_items(raw), count, repeats),
        "classify": cpu_ms(
            lambda: [assessor.classify(c.title, c.description) for c in cases], count, repeats
        ),
        "read": cpu_ms(lambda: [assessor.read_text(c.title, c.description) for c in cases], count, repeats),
        "grade": cpu_ms(
            lambda: [assessor.grade(c, k, 0) for c, k in zip(cases, categories, strict=True)], count, repeats
        ),
    }


def row(figures: dict[str, tuple[float, float]], count: int, repeats: int) -> str:
    def shown(name: str) -> str:
        low, mid = figures[name]
        return f"{low:.3f} / {mid:.3f} ms"

    ratio = figures["prepare"][0] / figures["baseline"][0]
    load = f"{os.getloadavg()[0]:.1f}"
    return (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {platform.machine()} {os.cpu_count()} cores, load {load} "
        f"| {_commit()} | {count:,} × {repeats} | {shown('baseline')} | **{shown('prepare')}** "
        f"| {shown('validate')} | {shown('classify')} | {shown('read')} | {shown('grade')} | {ratio:.0f} |"
    )


def record(line: str) -> None:
    append_row(
        SECTION,
        "`python -m benchmarks.import_worker`: CPU a work order (min / median of the repeats) of intake's "
        "import worker, by stage, on the back-fill bench's simulated history; the baseline is decoding the "
        "same body with orjson, in the same run. `grade` includes reading the words.\n\n" + HEADER,
        line,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="Add the row to benchmarks/RESULTS.md")
    args = parser.parse_args()
    figures = measure(args.orders, args.repeats)
    for name, (low, mid) in figures.items():
        print(f"{name:>9}: {low:.3f} ms min, {mid:.3f} ms median a work order")
    line = row(figures, args.orders, args.repeats)
    print(line)
    if args.record:
        record(line)


if __name__ == "__main__":
    main()
