"""`qualibench assist`: the mission sheet for people sending on assisted channels, and their reports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from ..errors import QualibenchError
from .common import console, err_console, open_workspace, print_json

assist_app = typer.Typer(
    help="Assisted channels (Facebook, Instagram, LinkedIn, WhatsApp, chat, phone, blocked forms): "
         "missions for people and what they report back.",
    no_args_is_help=True,
)


def _time(value: str | None) -> datetime | None:
    """Return the --at value as an aware datetime (an offset is required: naive times are ambiguous)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QualibenchError(f"cannot read the time {value!r}",
                              "write it as ISO 8601 with its offset, e.g. 2026-03-02T14:05+01:00") from None
    if parsed.tzinfo is None:
        raise QualibenchError(f"the time {value!r} has no UTC offset",
                              "add the offset, e.g. 2026-03-02T14:05+01:00 (or Z for UTC)")
    return parsed


@assist_app.command("next")
def next_command(
    limit: int = typer.Option(1, "--limit", "-n", min=1, help="How many missions to show."),
    channel: str | None = typer.Option(None, "--channel", help="Only this channel (facebook, phone, webform...)."),
    as_json: bool = typer.Option(False, "--json", help="Print the missions as JSON."),
) -> None:
    """Print the next mission(s): persona, where to write, the exact text, and when."""
    from ..assisted import next_missions

    missions = next_missions(open_workspace(), limit, channel=channel)
    if as_json:
        print_json([m.as_dict() for m in missions])
        return
    if not missions:
        console.print("No mission waiting: every assisted probe is sent.")
        return
    for m in missions:
        table = Table(title=f"Mission: probe {m.probe_id} ({m.probe_key})", show_header=False)
        table.add_column("what", style="bold")
        table.add_column("value", overflow="fold")
        table.add_row("Channel", m.channel)
        table.add_row("Brand", m.brand)
        table.add_row("Where", m.where or "(no contact point given: find it on the brand's site)")
        table.add_row("As", f"{m.persona} <{m.persona_email}> {m.persona_phone}".strip())
        table.add_row("When", f"{m.when_local} ({m.when.isoformat()})" if m.when else "now")
        if m.reason:
            table.add_row("Why by hand", m.reason)
        if m.subject:
            table.add_row("Subject", m.subject)
        table.add_row("Text", m.text)
        console.print(table)
        console.print(f"Then: qualibench assist sent {m.probe_id} --at TIME")


@assist_app.command("sent")
def sent_command(
    probe: str = typer.Argument(..., help="Probe id or key."),
    at: str | None = typer.Option(None, "--at", help="When it was sent (ISO 8601 with offset); default now."),
) -> None:
    """Record that a person sent the probe."""
    from ..assisted import record_sent

    row = record_sent(open_workspace(), probe, _time(at))
    console.print(f"Probe {row.id} ({row.key}) sent at {row.sent_at.isoformat() if row.sent_at else '?'}.")


@assist_app.command("reply")
def reply_command(
    probe: str = typer.Argument(..., help="Probe id or key."),
    at: str = typer.Option(..., "--at", help="When the brand answered (ISO 8601 with offset)."),
    text_file: Path = typer.Option(..., "--text-file", exists=True, dir_okay=False,
                                   help="A UTF-8 text file holding the brand's words."),
    screenshot: Path | None = typer.Option(None, "--screenshot", exists=True, dir_okay=False,
                                           help="A screenshot of the answer, kept as evidence."),
    kind: str | None = typer.Option(None, "--kind", help="Override the classification (answer, auto_ack, redirect...)."),
) -> None:
    """Record the brand's reply to an assisted probe (classified, timed and scored like the others)."""
    from ..assisted import record_reply

    when = _time(at)
    assert when is not None
    reply = record_reply(open_workspace(), probe, when, text_file.read_text(encoding="utf-8"),
                         screenshot, kind)
    console.print(f"Reply {reply.id} recorded for probe {reply.probe_id}: {reply.kind}.")


@assist_app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="A .csv or .xlsx file: probe, event (sent/reply), at, text, text_file, screenshot, kind."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Import a team's sendings and replies; a file with any bad row imports nothing."""
    from ..assisted import import_assisted

    report = import_assisted(open_workspace(), file)
    for w in report.warnings:
        err_console.print(f"[yellow]Warning:[/] {w}", highlight=False)
    if as_json:
        print_json({"sent": report.sent, "replies": report.replies})
        return
    console.print(f"Imported {report.sent} sending(s) and {report.replies} reply(ies).")


def register(app: typer.Typer) -> None:
    app.add_typer(assist_app, name="assist")
