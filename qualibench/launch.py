"""The `qualibench` console script: a `collect` that finds nothing new answers before the CLI loads.

A collect run from cron mostly finds nothing. Loading typer, pydantic, SQLAlchemy and the
parser costs several times the IMAP round trips, so the plain forms `qualibench [-C DIR]
[--db URL] [--campaign-id N] collect [--json]` first ask mail.unchanged whether anything moved
since the last run; when nothing did, its report is printed here. Every other command line,
and every collect the quick check cannot vouch for, goes to the full CLI (qualibench.cli).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_WITH_VALUE = {"-C": "campaign", "--campaign": "campaign", "--db": "db", "--campaign-id": "campaign_id"}


def _collect_options(argv: list[str]) -> dict | None:
    """Return the global options of a plain `collect [--json]` command line, else None."""
    found: dict = {"campaign": ".", "db": None, "campaign_id": None, "json": False}
    i = 0
    while i < len(argv) and argv[i] != "collect":
        arg, value = argv[i], None
        if "=" in arg and arg.startswith("--"):
            arg, value = arg.split("=", 1)
        if arg not in _WITH_VALUE:
            return None
        if value is None:
            if i + 1 >= len(argv):
                return None
            value = argv[i + 1]
            i += 1
        found[_WITH_VALUE[arg]] = value
        i += 1
    rest = argv[i + 1:]
    if i >= len(argv) or any(a != "--json" for a in rest):
        return None
    found["json"] = bool(rest)
    if found["campaign_id"] is not None:
        if not str(found["campaign_id"]).isdigit() or int(found["campaign_id"]) < 1:
            return None
        found["campaign_id"] = int(found["campaign_id"])
    return found


def quick_collect(argv: list[str]) -> bool:
    """Print the report of a collect with nothing new and return True; False to run the CLI."""
    options = _collect_options(argv)
    if options is None:
        return False
    from .mail.unchanged import quick_report

    report = quick_report(Path(options["campaign"]).resolve(), options["db"], options["campaign_id"])
    if report is None:
        return False
    if options["json"]:
        import json

        print(json.dumps(report, indent=2, ensure_ascii=False))
        return True
    from types import SimpleNamespace

    from rich.console import Console

    from .collect_view import summary_line, summary_table

    view = SimpleNamespace(**{**report, "folders": [SimpleNamespace(**f) for f in report["folders"]]})
    console = Console(highlight=False)
    console.print(summary_table(view))
    console.print(summary_line(view), markup=False)
    return True


def main() -> None:
    """Console entry point."""
    argv = sys.argv[1:]
    try:
        done = quick_collect(argv)
    except KeyboardInterrupt:
        from .cli import ExitStatus, interrupted_line
        from .cli.common import err_console
        from .cli.terminal import shown

        err_console.print(f"[bold red]Error:[/] {shown(interrupted_line(argv))}", soft_wrap=True)
        sys.exit(int(ExitStatus.INTERRUPTED))
    except BrokenPipeError:  # stdout closed by the reader (`collect --json | head`)
        from .errors import ExitStatus

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(int(ExitStatus.ERROR))
    except Exception:  # the quick check never fails a run: the full path decides
        done = False
    if done:
        sys.exit(0)  # ExitStatus.OK (qualibench.errors is not imported for it: dataclasses)
    from .cli import main as cli_main

    cli_main()
