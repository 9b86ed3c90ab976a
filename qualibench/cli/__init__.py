"""The `qualibench` command: a thin typer layer over the library.

Each command group lives in its own module exposing `register(app)`; a module that fails to
import is reported as one warning and the other commands keep working.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shlex
import sys
import traceback as tb

import typer
import typer.core

from ..errors import ExitStatus, InvalidInput, QualibenchError
from .common import console, err_console, state
from .terminal import shown, visible

app = typer.Typer(
    name="qualibench",
    help="Mystery-shopping benchmarks of online customer service: plan, send, collect, score, award, report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    rich_markup_mode="rich",
)



def _flags_without_type() -> None:
    """Show no `<bool>` type beside flags in --help (typer >= 0.2x prints one; a flag takes no value)."""
    option_cls = getattr(typer.core, "TyperOption", None)
    shown = getattr(option_cls, "display_type_rich", None)
    if shown is None or getattr(shown, "_qualibench", False):
        return

    def display_type_rich(self, ctx):  # type: ignore[no-untyped-def]
        return None if getattr(self, "is_flag", False) else shown(self, ctx)

    display_type_rich._qualibench = True  # type: ignore[attr-defined]
    option_cls.display_type_rich = display_type_rich  # type: ignore[union-attr]


_flags_without_type()

COMMAND_MODULES = (
    "campaign",  # init, check, plan, status, config show
    "mail",  # collect, inbox
    "send",  # send
    "score",  # score, rescore
    "audit",  # audit export/import/set/agreement
    "report",  # report, export, awards
    "verify",  # verify
    "db",  # db migrate-to
    "demo",  # demo
    "assist",  # assist next/sent/reply/import
    "review",  # review (serve), review add-user/link/assign
)


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        console.print(f"qualibench {__version__}", markup=False, highlight=False)
        raise typer.Exit(int(ExitStatus.OK))


@app.callback()
def _root(
    campaign_dir: str = typer.Option(
        ".", "--campaign", "-C", metavar="DIR", help="Campaign folder (holds campaign.toml).",
        show_default=True,
    ),
    db: str | None = typer.Option(
        None, "--db", metavar="URL", help="SQLAlchemy database URL; default $QUALIBENCH_DB_URL or the folder's SQLite file."
    ),
    campaign_id: int | None = typer.Option(
        None, "--campaign-id", min=1,
        help="Work on this campaign of a shared database (default: the folder's campaign.toml).",
    ),
    traceback: bool = typer.Option(False, "--traceback", help="Show the Python traceback on errors."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Print the version and exit."),
) -> None:
    state.campaign_dir = campaign_dir
    state.db_url = db
    state.campaign_id = campaign_id
    state.traceback = traceback
    state.quick_exit = False


SHELLS = ("bash", "zsh", "fish")


def completion(shell: str = typer.Argument(..., metavar="SHELL", help="bash, zsh or fish.")) -> None:
    """Print the shell completion script, e.g. `qualibench completion bash >> ~/.bashrc`."""
    from typer._completion_shared import get_completion_script

    if shell not in SHELLS:
        raise QualibenchError(f"no completion for shell {shell!r}", "use bash, zsh or fish")
    script = get_completion_script(prog_name="qualibench", complete_var="_QUALIBENCH_COMPLETE",
                                   shell=shell)
    print(script)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue  # not built in this version
            err_console.print(f"[yellow]Warning:[/] commands from {name!r} unavailable: {shown(exc)}")
            continue
        except Exception as exc:
            err_console.print(f"[yellow]Warning:[/] commands from {name!r} unavailable: {shown(exc)}")
            continue
        module.register(app)


_register_all()
app.command()(completion)


def report_error(exc: QualibenchError) -> None:
    """Print `Error: <cause>` and `Hint: <fix>` (and each problem of invalid input)."""
    if isinstance(exc, InvalidInput):
        for p in exc.problems:
            err_console.print(visible(p.line()), markup=False, highlight=False, soft_wrap=True)
    # Messages quote file contents and hints hold `pip install 'qualibench[pdf]'`: never markup.
    err_console.print(f"[bold red]Error:[/] {shown(exc.message)}", highlight=False, soft_wrap=True)
    if exc.hint:
        err_console.print(f"[bold]Hint:[/] {shown(exc.hint)}", highlight=False, soft_wrap=True)


ROOT_OPTIONS_WITH_VALUE = ("--campaign", "-C", "--db")


def interrupted_line(argv: list[str]) -> str:
    """Return the one line printed on Ctrl-C: which command to rerun, and what a rerun does."""
    command = " ".join(["qualibench", *(shlex.quote(a) for a in argv)])
    words = [a for i, a in enumerate(argv)
             if not a.startswith("-") and (i == 0 or argv[i - 1] not in ROOT_OPTIONS_WITH_VALUE)]
    if words[:1] == ["demo"]:
        return f"interrupted: rerun `{command}` to run the demo again from the start"
    return f"interrupted: rerun `{command}` to resume (nothing done so far is lost or sent twice)"


def run(argv: list[str]) -> int:
    """Run the command line `argv` and return its exit status; errors become one-line messages."""
    try:
        # With standalone_mode=False typer returns the code of `typer.Exit` (and 130 for a
        # Ctrl-C it caught itself) instead of exiting: the return value is the exit status.
        rv = app(args=argv, prog_name="qualibench", standalone_mode=False)
    except QualibenchError as exc:
        if state.traceback:
            tb.print_exc()
        report_error(exc)
        return int(exc.exit_status)
    except KeyboardInterrupt:
        rv = int(ExitStatus.INTERRUPTED)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except Exception as exc:
        return _unexpected(exc)
    code = rv if isinstance(rv, int) and not isinstance(rv, bool) else int(ExitStatus.OK)
    if code == ExitStatus.INTERRUPTED:
        err_console.print(f"[bold red]Error:[/] {shown(interrupted_line(argv))}", soft_wrap=True)
    return code


def _exit_code(code: object) -> int:
    if code is None:
        return int(ExitStatus.OK)
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return int(ExitStatus.ERROR)


def _unexpected(exc: Exception) -> int:
    # typer vendors click; find its exception classes through typer itself.
    click_exc = _click_exceptions()
    if isinstance(exc, typer.Abort):
        return int(ExitStatus.INTERRUPTED)
    if isinstance(exc, click_exc.NoArgsIsHelpError):
        exc.show()
        return int(ExitStatus.OK)
    if isinstance(exc, click_exc.ClickException):
        exc.show()
        return int(ExitStatus.USAGE) if isinstance(exc, click_exc.UsageError) else exc.exit_code
    if isinstance(exc, BrokenPipeError):
        return int(ExitStatus.ERROR)
    if state.traceback:
        tb.print_exc()
    err_console.print(f"[bold red]Error:[/] unexpected {type(exc).__name__}: {shown(exc)}",
                      soft_wrap=True)
    err_console.print(
        "[bold]Hint:[/] rerun with --traceback and report it; the campaign state is saved, a rerun resumes",
        soft_wrap=True,
    )
    return int(ExitStatus.ERROR)


def main() -> None:
    """Console entry point: run the command line and exit with its status."""
    state.whole_process = True
    code = run(sys.argv[1:])
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # stdout closed by the reader (`qualibench status | head`): nothing left to show.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if code == ExitStatus.OK and state.quick_exit:
        _quick_exit()
    sys.exit(code)


def _quick_exit() -> None:
    # The command has written and printed everything: close the database connections properly
    # (a server sees a clean goodbye, SQLite checkpoints its journal), flush, and leave without
    # the interpreter's teardown, which frees the command's millions of objects one by one.
    if "qualibench.db" in sys.modules:
        sys.modules["qualibench.db"].dispose_engines()
    with contextlib.suppress(BrokenPipeError, ValueError):
        sys.stderr.flush()
    os._exit(int(ExitStatus.OK))


def _click_exceptions():  # type: ignore[no-untyped-def]
    try:
        from typer._click import exceptions  # typer >= 0.20 vendors click
    except ImportError:  # pragma: no cover - older typer uses click itself
        from click import exceptions  # type: ignore[no-redef]
    return exceptions
