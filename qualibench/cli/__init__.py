"""The `qualibench` command: a thin typer layer over the library.

Each command group lives in its own module exposing `register(app)`; a module that fails to
import is reported as one warning and the other commands keep working.
"""

from __future__ import annotations

import importlib
import sys
import traceback as tb

import typer

from ..errors import ExitStatus, InvalidInput, QualibenchError
from .common import err_console, state

app = typer.Typer(
    name="qualibench",
    help="Mystery-shopping benchmarks of online customer service: plan, send, collect, score, award, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="rich",
)

COMMAND_MODULES = (
    "campaign",  # init, check, plan, status, config show
    "mail",  # collect, inbox
    "send",  # send
    "score",  # score, rescore
    "audit",  # audit export/import/set/agreement
    "report",  # report, export, awards
    "verify",  # verify
    "demo",  # demo
    "assist",  # assist next/sent/reply/import
)


@app.callback()
def _root(
    campaign_dir: str = typer.Option(
        ".", "--campaign", "-C", help="Campaign folder (holds campaign.toml).", show_default=True
    ),
    db: str | None = typer.Option(
        None, "--db", help="SQLAlchemy database URL; default $QUALIBENCH_DB_URL or the folder's SQLite file."
    ),
    traceback: bool = typer.Option(False, "--traceback", help="Show the Python traceback on errors."),
) -> None:
    state.campaign_dir = campaign_dir
    state.db_url = db
    state.traceback = traceback


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # not built in this version
            err_console.print(f"[yellow]Warning:[/] commands from {name!r} unavailable: {exc}")
            continue
        except Exception as exc:
            err_console.print(f"[yellow]Warning:[/] commands from {name!r} unavailable: {exc}")
            continue
        module.register(app)


_register_all()


def report_error(exc: QualibenchError) -> None:
    """Print `Error: <cause>` and `Hint: <fix>` (and each problem of invalid input)."""
    if isinstance(exc, InvalidInput):
        for p in exc.problems:
            err_console.print(p.line(), markup=False, highlight=False, soft_wrap=True)
    err_console.print(f"[bold red]Error:[/] {exc.message}", highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[bold]Hint:[/] {exc.hint}", highlight=False, soft_wrap=True)


def main() -> None:
    """Console entry point: runs the app and turns failures into one-line errors."""
    try:
        app(standalone_mode=False)
    except QualibenchError as exc:
        if state.traceback:
            tb.print_exc()
        report_error(exc)
        sys.exit(int(exc.exit_status))
    except KeyboardInterrupt:
        err_console.print("[bold red]Error:[/] interrupted; rerun the same command to resume")
        sys.exit(int(ExitStatus.INTERRUPTED))
    except SystemExit:
        raise
    except Exception as exc:
        # typer vendors click; find its exception classes through typer itself.
        if isinstance(exc, typer.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, typer.Abort):
            sys.exit(int(ExitStatus.INTERRUPTED))
        if isinstance(exc, _click_exceptions().ClickException):
            if isinstance(exc, _click_exceptions().NoArgsIsHelpError):
                exc.show()
                sys.exit(int(ExitStatus.OK))
            exc.show()
            sys.exit(int(ExitStatus.USAGE))
        if state.traceback:
            tb.print_exc()
        err_console.print(f"[bold red]Error:[/] unexpected {type(exc).__name__}: {exc}", soft_wrap=True)
        err_console.print(
            "[bold]Hint:[/] rerun with --traceback and report it; the campaign state is saved, a rerun resumes",
        )
        sys.exit(int(ExitStatus.ERROR))


def _click_exceptions():  # type: ignore[no-untyped-def]
    try:
        from typer._click import exceptions  # typer >= 0.20 vendors click
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import exceptions  # type: ignore[no-redef]
    return exceptions
