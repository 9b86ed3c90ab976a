"""`qualibench verify`: check that the evidence and the event log are untouched."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import QualibenchError
from .common import console, open_workspace, print_json


def verify(
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    anchor: Path | None = typer.Option(
        None, "--anchor", help="Compare with an anchor file kept apart (a copy of the folder's "
        ".qualibench-anchor.json); default: the folder's own."),
) -> None:
    """Recompute every raw evidence hash, the event chain and its head, and every fact the report
    reads (reply text and times, classification, scores, probe times); name anything tampered."""
    from ..verify import verify_campaign

    report = verify_campaign(open_workspace(), anchor=anchor)
    if json_out:
        print_json({"ok": report.ok, "evidence_checked": report.evidence_checked,
                    "events_checked": report.events_checked, "facts_checked": report.facts_checked,
                    "anchor": report.anchor, "problems": report.problems})
    else:
        for line in report.problems:
            console.print(f"[red]✗[/] {line}", highlight=False, soft_wrap=True)
        if report.ok:
            console.print(f"[green]OK[/] {report.evidence_checked} raw evidence item(s), "
                          f"{report.events_checked} event(s) and {report.facts_checked} fact(s) verified")
    if not report.ok:
        raise QualibenchError(f"{len(report.problems)} integrity problem(s) found",
                              "restore the named files or database rows from backup; do not publish figures from them")


def register(app: typer.Typer) -> None:
    app.command()(verify)
