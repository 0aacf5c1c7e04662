"""What every command shares: a console sized at run time, and settings read or a clean exit."""

from __future__ import annotations

from typing import Any, TypeVar

import typer
from rich.console import Console

from hub.config import Settings

S = TypeVar("S", bound=Settings)


def console() -> Console:
    """Made when a command runs, so the terminal's width (COLUMNS) is the one it runs in."""
    return Console(highlight=False)


def read_settings(kind: type[S], **overrides: Any) -> S:
    """The settings of `kind` from the environment (HUB_*); a wrong value ends the command, naming it."""
    try:
        return kind(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:
        console().print(f"[bold red]配置错误 (settings):[/bold red] {exc}")
        raise typer.Exit(2) from None
