"""Read the packaged rule files on demand (never at import time)."""

from __future__ import annotations

from importlib import resources

RULES_PACKAGE = "services.intake.rules"


def read_rule_text(name: str) -> str:
    """Return the text of a YAML file shipped in ``services/intake/rules/``."""
    return resources.files(RULES_PACKAGE).joinpath(name).read_text(encoding="utf-8")
