"""Shared pieces of the CLI layer: consoles, global options, JSON output, workspace opening."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .terminal import TerminalConsole, json_safe

console = TerminalConsole()
err_console = TerminalConsole(stderr=True)


@dataclass
class GlobalState:
    campaign_dir: str = "."
    db_url: str | None = None
    traceback: bool = False


state = GlobalState()


def open_workspace():  # type: ignore[no-untyped-def]
    """Return the Workspace selected by --campaign / --db."""
    from ..workspace import Workspace

    return Workspace.open(state.campaign_dir, state.db_url)


def print_json(data: Any) -> None:
    """Print `data` as JSON on stdout (no colour, stable key order, no raw control character)."""
    print(json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=str, sort_keys=False)))
