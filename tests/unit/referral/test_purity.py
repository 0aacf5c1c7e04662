"""The referral domain core stays pure: no I/O libraries, no file reads, nothing done at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import services.referral.domain as domain

FORBIDDEN_IMPORTS = {
    "sqlalchemy",
    "httpx",
    "aio_pika",
    "fastapi",
    "requests",
    "aiosqlite",
    "asyncpg",
    "socket",
    "pathlib",
    "os",
    "importlib",
    "hub",
}
# The kit's pure parts: message contracts and the strict YAML reader (text in, values out).
PURE_KIT = {"hub.contracts", "hub.datafile"}
FORBIDDEN_CALLS = {"open", "read_text", "read_bytes", "now", "utcnow", "today"}
MODULES = sorted(Path(domain.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports_and_no_clock_reads(path: Path) -> None:
    imported: set[str] = set()
    called: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(_top(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(_top(node.module))
        elif isinstance(node, ast.Call):
            func = node.func
            called.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    assert not imported & FORBIDDEN_IMPORTS
    assert not called & FORBIDDEN_CALLS  # time comes in as ``now``; data comes in as text


def _top(module: str) -> str:
    """The package an import belongs to; a pure part of the kit counts as its own."""
    if any(module == pure or module.startswith(pure + ".") for pure in PURE_KIT):
        return module
    return module.split(".")[0]


def test_all_domain_modules_are_checked() -> None:
    assert {p.stem for p in MODULES} >= {"calendar", "deadlines", "lifecycle", "supervision", "routing"}


_IMPORT_PROBE = """
import sys
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and not args[0].endswith((".py", ".pyc", ".so")):
        opened.append(args[0])
sys.addaudithook(hook)
import services.referral.domain.calendar, services.referral.domain.deadlines
import services.referral.domain.lifecycle, services.referral.domain.routing
import services.referral.domain.supervision
print(repr([p for p in opened if "__pycache__" not in p and not p.endswith("/")]))
"""


def test_importing_the_domain_reads_no_files() -> None:
    """ZoneInfo, data files and schedules are all read on first use, never at import."""
    root = Path(domain.__file__).parents[3]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]", done.stdout
