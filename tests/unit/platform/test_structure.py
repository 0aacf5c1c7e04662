"""The layers hold (docs/ARCHITECTURE.md): the import contracts pass on the tree as it is, fail when a
service imports another or a domain reaches for I/O, and no production module outgrows 500 lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
PACKAGES: list[str] = CONFIG["root_packages"]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 500


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts of pyproject.toml over the packages found in `tree` (not the installed ones)."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(tree / "pyproject.toml")],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "COLUMNS": "400"},  # no wrapped names
        capture_output=True,
        text=True,
        timeout=300,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static", "*.yaml", "*.png")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_every_import_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONFIG['contracts'])} kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("breach_file", "breach", "contract"),
    [
        (
            "services/intake/reaches_into_referral.py",
            "from services.referral.domain import routing\n",
            "Services and the gateway talk through events and HTTP, never by import",
        ),
        (
            "gateway/reaches_into_notification.py",
            "import services.notification.domain.templates\n",
            "Services and the gateway talk through events and HTTP, never by import",
        ),
        (
            "hub/reaches_up.py",
            "from gateway.routes import table\n",
            "The kit (hub) imports no service, no gateway, no command line, no benchmark",
        ),
        (
            "services/referral/domain/reads_the_database.py",
            "from hub.db import Database\n",
            "Domains import no I/O: no database, broker, HTTP or framework, not even through the kit",
        ),
    ],
)
def test_a_breach_breaks_its_contract_by_name(
    tmp_path: Path, breach_file: str, breach: str, contract: str
) -> None:
    tree = copy_of_the_tree(tmp_path)
    (tree / breach_file).write_text(f'"""A breach planted by the test."""\n\n{breach}', encoding="utf-8")
    result = lint_imports(tree)
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken
    assert Path(breach_file).with_suffix("").as_posix().replace("/", ".") in broken


def production_modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations/versions" not in path.as_posix()
    )


def test_no_production_module_is_over_500_lines() -> None:
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in production_modules()
    }
    assert len(sizes) > 100  # the packages were found
    assert {path: lines for path, lines in sizes.items() if lines > MAX_LINES} == {}
