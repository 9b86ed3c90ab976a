"""`qualibench verify`: check that the evidence and the event log are untouched."""

from __future__ import annotations

import typer

from ..errors import QualibenchError
from ..verify import verify_campaign
from .common import console, open_workspace, print_json


def verify(json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Recompute every raw evidence hash and the event log's hash chain; name anything tampered."""
    report = verify_campaign(open_workspace())
    if json_out:
        print_json({"ok": report.ok, "evidence_checked": report.evidence_checked,
                    "events_checked": report.events_checked, "problems": report.problems})
    else:
        for line in report.problems:
            console.print(f"[red]✗[/] {line}", highlight=False, soft_wrap=True)
        if report.ok:
            console.print(f"[green]OK[/] {report.evidence_checked} raw evidence file(s) and "
                          f"{report.events_checked} event(s) verified")
    if not report.ok:
        raise QualibenchError(f"{len(report.problems)} integrity problem(s) found",
                              "restore the named files or database rows from backup; do not publish figures from them")


def register(app: typer.Typer) -> None:
    app.command()(verify)
