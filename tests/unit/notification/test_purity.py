"""The domain core stays pure: no I/O libraries imported, so it is testable without fakes."""

import ast
from pathlib import Path

import pytest

import services.notification.domain as domain

FORBIDDEN = {"sqlalchemy", "httpx", "aio_pika", "fastapi", "requests", "aiosqlite", "asyncpg", "socket"}
MODULES = sorted(Path(domain.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN


def test_all_domain_modules_are_checked() -> None:
    assert {p.stem for p in MODULES} >= {
        "templates",
        "segments",
        "quiet_hours",
        "rate_limit",
        "replies",
        "signing",
    }
