"""`qualibench send`: dispatch the due probes through their channels (crash-safe, throttled)."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import console, open_workspace, print_json

ROWS = (
    ("sent", "sent"),
    ("reconciled_sent", "found sent after an interruption"),
    ("reconciled_requeued", "found unsent after an interruption (sent now)"),
    ("reconciled_failed", "fate unknown after an interruption (failed)"),
    ("outcome_unknown", "outcome unknown (kept dispatching, asked again next run)"),
    ("deferred", "temporary refusal, retried later"),
    ("undeliverable", "undeliverable"),
    ("failed", "failed"),
    ("assisted", "handed to a person"),
    ("waiting_for_slot", "due, waiting for a send slot"),
    ("no_plugin", "no channel plugin"),
    ("would_send", "would send (dry run)"),
    ("reminders_sent", "reminders sent"),
    ("reminders_failed", "reminders failed"),
)


def _summary(report) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title="Send")
    table.add_column("outcome")
    table.add_column("probes", justify="right")
    data = report.as_dict()
    for key, label in ROWS:
        if data[key]:
            table.add_row(label, str(data[key]))
    if not table.row_count:
        table.add_row("nothing due", "0")
    return table


def send_command(
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be sent; send nothing."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Send at most N probes."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel (e.g. email)."),
    insecure: bool = typer.Option(
        False, "--insecure",
        help="Allow plain-text SMTP/IMAP (and passwords) to a host that is not loopback."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Send the due probes once each; a rerun after an interruption resumes without duplicates."""
    from ..campaign.spec import require_secrets
    from ..send_plan import send_schedule
    from ..sending import send_due_probes

    ws = open_workspace()
    if not dry_run:
        require_secrets(ws.spec().config, "send", channel)
    if as_json:
        report = send_due_probes(ws, channel=channel, limit=limit, dry_run=dry_run,
                                 insecure=insecure)
        data = report.as_dict()
        if dry_run:
            data["schedule"] = [c.as_dict() for c in send_schedule(ws, channel)]
        print_json(data)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("Sending", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what[:60])

        report = send_due_probes(ws, channel=channel, limit=limit, dry_run=dry_run,
                                 insecure=insecure, progress=progress)
    console.print(_summary(report))
    for item in report.items:
        if item["outcome"] in ("undeliverable", "failed", "no_plugin", "outcome_unknown"):
            console.print(f"  {item['probe']}: {item['outcome']}: {item['detail']}",
                          markup=False, highlight=False)
    if report.throttled_seconds:
        console.print(f"Waited {report.throttled_seconds:.0f} s for throttling.")
    if dry_run:
        for line in schedule_lines(send_schedule(ws, channel)):
            console.print(line, markup=False, soft_wrap=True)


def _slot(when) -> str:  # type: ignore[no-untyped-def]
    return when.strftime("%a %Y-%m-%d %H:%M UTC") if when else "-"


def schedule_lines(schedule) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the dry run's plan: per channel, first and last slot, probes per day, X cost."""
    if not schedule:
        return ["Nothing left to send: every probe is sent (or failed)."]
    lines = ["Still to send, at their planned send slots:"]
    for c in schedule:
        lines.append(f"  {c.channel}: {c.probes} probe(s), first slot {_slot(c.first_slot)}, "
                     f"last slot {_slot(c.last_slot)}")
        if c.per_day:
            lines.append("    per day: " + ", ".join(f"{d:%a %m-%d} {n}" for d, n in c.per_day.items()))
        if c.cost:
            k = c.cost
            lines.append(f"    X API cost: {k['posts']} post(s) x {k['prices']['post']:g} + {k['dms']} DM(s) "
                         f"x {k['prices']['dm']:g} = {k['total']:.2f} {k['currency']}")
    return lines


def register(app: typer.Typer) -> None:
    app.command("send")(send_command)
