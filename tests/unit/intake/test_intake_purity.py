"""The domain core is pure: no I/O libraries, and importing it does no work (no jieba, no cn2an, no YAML)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import services.intake.domain as domain_package

DOMAIN_DIR = Path(domain_package.__file__).parent
FORBIDDEN = {
    "sqlalchemy",
    "httpx",
    "aio_pika",
    "aiormq",
    "fastapi",
    "starlette",
    "asyncpg",
    "aiosqlite",
    "os",
}


def test_domain_sources_import_no_io_libraries() -> None:
    offenders = []
    for source in sorted(DOMAIN_DIR.glob("*.py")):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [(source.name, name) for name in names if name.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_the_domain_loads_neither_jieba_nor_rule_files() -> None:
    # An audit hook sees every file open, including pathlib's and importlib.resources'.
    script = """
import sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
import services.intake.domain.model, services.intake.domain.grading, services.intake.domain.classifier
import services.intake.domain.duplicates, services.intake.domain.pii, services.intake.domain.categories
import services.intake.domain.signals, services.intake.domain.numerals
heavy = sorted(m for m in ("jieba", "cn2an", "sqlalchemy", "httpx", "aio_pika", "fastapi") if m in sys.modules)
data_files = [p for p in opened if p.endswith(".yaml") or "/jieba/" in p]
print(heavy, data_files)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[] []"
    assert result.stderr == ""  # jieba would print "Building prefix dict" here
