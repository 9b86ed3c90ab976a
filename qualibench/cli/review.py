"""`qualibench review`: the auditors' workspace in the browser, its people and assignments."""

from __future__ import annotations

import typer

from .common import console, open_workspace

review_app = typer.Typer(help="The review workspace in the browser: blind double coding, evidence, adjudication.",
                         invoke_without_command=True)


def _missing() -> None:
    from ..errors import DependencyMissing

    raise DependencyMissing("the review workspace needs starlette, uvicorn, nh3 and argon2-cffi",
                            "pip install 'qualibench[review]'")


@review_app.callback()
def review(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; anything but loopback is warned about."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: a free one, printed)."),
    open_coding: bool = typer.Option(False, "--open", help="Show brand and automatic score while coding (no blind mode)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the address and any warning, then exit without listening."),
) -> None:
    """Serve the review workspace (blind coding unless --open) until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        from ..review.server import serve
    except ImportError:
        _missing()
    serve(open_workspace(), host=host, port=port, blind=not open_coding, announce=console.print, dry_run=dry_run)


def _link(url: str, token: str) -> str:
    return f"{url.rstrip('/')}/login/{token}"


@review_app.command("add-user")
def add_user(
    name: str = typer.Argument(..., help="The reviewer's name (their scores are recorded as auditor:NAME)."),
    role: str = typer.Option(..., "--role", help="analyst, auditor or adjudicator."),
    url: str = typer.Option("http://127.0.0.1:8765", "--url", help="Address the workspace is served on, for the link."),
) -> None:
    """Add a reviewer and print their one-time login link (valid 24 hours)."""
    from ..review.people import add_reviewer

    person, token = add_reviewer(open_workspace(), name, role)
    console.print(f"Added {person.name} ({person.role}). One-time login link, valid 24 hours:")
    print(_link(url, token), flush=True)


@review_app.command("link")
def link(
    name: str = typer.Argument(..., help="An existing reviewer."),
    url: str = typer.Option("http://127.0.0.1:8765", "--url", help="Address the workspace is served on, for the link."),
) -> None:
    """Print a new one-time login link for a reviewer."""
    from ..review.people import new_login_link

    print(_link(url, new_login_link(open_workspace(), name)), flush=True)


@review_app.command("disable")
def disable(name: str = typer.Argument(..., help="The reviewer to lock out.")) -> None:
    """Disable a reviewer: their open sessions and links stop working at once; their codes stay."""
    from ..review.people import disable_reviewer

    disable_reviewer(open_workspace(), name)
    console.print(f"Disabled {name}.")


@review_app.command("assign")
def assign(
    auditors: str = typer.Option("", "--auditors", help="Comma-separated names; default: every reviewer with the auditor role."),
    share: float = typer.Option(1.0, "--share", help="Share of the replies coded by two auditors (0 to 1)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the draw (reproducible)."),
) -> None:
    """Give the scored replies not yet assigned to auditors (double coding for --share of them)."""
    from ..review.coding import assign_replies
    from ..review.people import AUDITOR, reviewers

    ws = open_workspace()
    names = [a for a in auditors.split(",") if a.strip()] or [p.name for p in reviewers(ws, AUDITOR)]
    report = assign_replies(ws, names, share=share, seed=seed)
    console.print(f"Assigned {report.replies} repl{'y' if report.replies == 1 else 'ies'} "
                  f"({report.double} to two auditors) under rubric {report.rubric_version}: "
                  + ", ".join(f"{n} {c}" for n, c in report.per_auditor.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
