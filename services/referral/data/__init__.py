"""Packaged data files of the referral service (procedures, routing rules, department registry).

The domain loaders take text; this is the one place that reads the packaged files, and only when
called (never at import time).
"""

from __future__ import annotations

from importlib import resources


def read_data_file(name: str) -> str:
    """The text of a packaged data file, e.g. ``read_data_file("routing.yaml")``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
