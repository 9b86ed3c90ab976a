"""Shared pieces of the CLI layer: consoles, global options, JSON output, workspace opening."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .terminal import TerminalConsole, json_safe

console = TerminalConsole()
err_console = TerminalConsole(stderr=True)


@dataclass
class GlobalState:
    campaign_dir: str = "."
    db_url: str | None = None
    campaign_id: int | None = None
    traceback: bool = False
    # Set by a command whose process holds a large heap when it is done (a 500-brand report):
    # the console entry point then ends the process at once instead of tearing the interpreter
    # down object by object (a tenth of a second or more for nothing anybody waits for).
    quick_exit: bool = False
    # Set by the console entry point (never by a test runner invoking the app): the command runs
    # alone in its process, so it may decide what the process imports (qualibench report).
    whole_process: bool = False


state = GlobalState()


def open_workspace():  # type: ignore[no-untyped-def]
    """Return the Workspace selected by --campaign / --db.

    A folder with no campaign.toml and no database, with no database named by --db or
    $QUALIBENCH_DB_URL either, is no campaign: say so and create nothing (opening it would
    write an empty qualibench.sqlite there and blame the database later).
    """
    from ..db import DB_ENV, DEFAULT_DB_FILE
    from ..errors import NotFound
    from ..workspace import CAMPAIGN_FILE, Workspace

    folder = Path(state.campaign_dir).resolve()
    explicit_db = state.db_url or os.environ.get(DB_ENV)
    if not explicit_db and not (folder / CAMPAIGN_FILE).is_file() \
            and not (folder / DEFAULT_DB_FILE).is_file():
        where = "this folder" if folder == Path.cwd().resolve() else str(folder)
        if not folder.is_dir():
            where = f"{folder} (it does not exist)"
        raise NotFound(f"no campaign here: {where} has no {CAMPAIGN_FILE}",
                       "create one with `qualibench init NAME` (or `qualibench demo`), "
                       "or point at one with --campaign DIR")
    return Workspace.open(folder, state.db_url, campaign_id=state.campaign_id)


def print_json(data: Any) -> None:
    """Print `data` as JSON on stdout (no colour, stable key order, no raw control character)."""
    print(json_safe(json.dumps(data, indent=2, ensure_ascii=False, default=str, sort_keys=False)))
