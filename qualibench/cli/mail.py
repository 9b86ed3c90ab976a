"""`qualibench collect` and `qualibench inbox`: bring replies home, and place the strays."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..collect_view import summary_line, summary_table
from .common import console, err_console, open_workspace, print_json
from .terminal import plain, shown


def _print_report(report) -> None:  # type: ignore[no-untyped-def]
    console.print(summary_table(report))
    console.print(summary_line(report), markup=False, highlight=False)
    if report.unmatched:
        console.print("Unmatched messages wait in `qualibench inbox list`.")
    for w in report.warnings:
        err_console.print(f"[yellow]Warning:[/] {shown(w)}")


def collect_command(
    watch: bool = typer.Option(False, "--watch", help="Keep running: wait for new mail (IMAP IDLE, else polling) and collect again."),
    poll_seconds: float = typer.Option(60.0, "--poll-seconds", help="Polling interval when the server has no IDLE."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Collect replies from every IMAP account (INBOX and Junk) and API channel, read-only."""
    from ..campaign.spec import require_secrets
    from ..collecting import collect
    from ..collecting import watch as watch_mail

    ws = open_workspace()
    require_secrets(ws.spec().config, "collect")  # before connecting to anything
    if watch:
        def show(report) -> None:  # type: ignore[no-untyped-def]
            if as_json:
                print_json(report.as_dict())
            elif report.new or report.matched:
                _print_report(report)
            elif report.warnings:  # a failed pass says what fails, never "Nothing new"
                for w in report.warnings:
                    err_console.print(f"[yellow]Warning:[/] {shown(w)}", highlight=False)
            else:
                console.print("Nothing new; waiting for mail (Ctrl-C to stop).")

        watch_mail(ws, on_report=show, poll_seconds=poll_seconds)
        return
    if as_json:
        print_json(collect(ws).as_dict())
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        report = collect(ws, progress=progress)
    _print_report(report)


inbox_app = typer.Typer(help="Messages no key could match to a probe: list, assign or dismiss them.",
                        no_args_is_help=False, invoke_without_command=True)


@inbox_app.callback()
def _inbox_default(ctx: typer.Context) -> None:
    """List the waiting messages when no subcommand is given."""
    if ctx.invoked_subcommand is None:
        list_command(all_=False, as_json=False)


@inbox_app.command("list")
def list_command(
    all_: bool = typer.Option(False, "--all", help="Also show dismissed messages."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the unmatched (and unparseable) messages waiting for an analyst."""
    from ..inbox import list_inbox

    items = list_inbox(open_workspace(), include_dismissed=all_)
    if as_json:
        print_json([i.as_dict() for i in items])
        return
    if not items:
        console.print("The inbox is empty: every collected message is placed.")
        return
    table = Table(title=f"Inbox ({len(items)})")
    for column in ("id", "status", "received (UTC)", "from", "subject", "note"):
        table.add_column(column)
    for i in items:
        when = i.received_at.strftime("%Y-%m-%d %H:%M") if i.received_at else ""
        # Sender, subject and note are the brand's (or a spammer's) words: never markup.
        table.add_row(str(i.id), i.status, when, plain(i.from_address), plain(i.subject[:60]),
                      plain(i.parse_error or i.note))
    console.print(table)


@inbox_app.command("assign")
def assign_command(
    inbound_id: int = typer.Argument(..., help="The message id shown by `inbox list`."),
    probe: str = typer.Argument(..., help="The probe id or key it answers."),
    analyst: str = typer.Option(..., "--analyst", help="Your name, kept in the event log."),
    kind: str | None = typer.Option(None, "--kind", help="auto_ack, out_of_office, bounce, answer or redirect (default: as classified)."),
) -> None:
    """Assign an inbox message to the probe it answers (recorded as a manual match)."""
    from ..inbox import assign

    reply = assign(open_workspace(), inbound_id, probe, analyst, kind=kind)
    console.print(f"Message #{inbound_id} recorded as {reply.kind} to probe {reply.probe_id}.")


@inbox_app.command("dismiss")
def dismiss_command(
    inbound_id: int = typer.Argument(..., help="The message id shown by `inbox list`."),
    analyst: str = typer.Option(..., "--analyst", help="Your name, kept in the event log."),
    why: str = typer.Option(..., "--why", help="Why it is not a reply (newsletter, spam...)."),
) -> None:
    """Dismiss an inbox message that answers no probe (kept, with who and why)."""
    from ..inbox import dismiss

    dismiss(open_workspace(), inbound_id, analyst, why)
    console.print(f"Message #{inbound_id} dismissed.")


def register(app: typer.Typer) -> None:
    app.command("collect")(collect_command)
    app.add_typer(inbox_app, name="inbox")
