"""benchmarks/RESULTS.md: a row added to a section's table (the section written first if missing)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def append_row(section: str, preface: str, row: str, path: Path = RESULTS) -> None:
    """Add `row` after the last row of the first table under `section`; a missing section is
    appended with `preface` (its text and the table's header lines, ending in a newline)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if section not in text:
        path.write_text(f"{text.rstrip(chr(10))}\n\n{section}\n\n{preface}{row}\n", encoding="utf-8")
        return
    head, _, tail = text.partition(section)
    lines = tail.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("|"))
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines.insert(end, row)
    path.write_text(head + section + "\n".join(lines), encoding="utf-8")
