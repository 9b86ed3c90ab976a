"""`qualibench db`: the campaign's database (moving it to the team's PostgreSQL)."""

from __future__ import annotations

import typer

from ..errors import QualibenchError
from .common import console, open_workspace, print_json

db_app = typer.Typer(help="The campaign's database: move it to the team's PostgreSQL.", no_args_is_help=True)


@db_app.command("migrate-to")
def migrate_to(
    url: str = typer.Argument(..., help="Target database URL, e.g. postgresql://user@host/db."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Copy the campaign (rows, event log, raw evidence) to URL, then run verify there."""
    from ..transfer import move_campaign

    report = move_campaign(open_workspace(), url)
    if as_json:
        print_json({"target": report.target, "rows": report.rows, "evidence": report.evidence,
                    "problems": report.problems})
    else:
        total = sum(report.rows.values())
        console.print(f"Copied {total} row(s) and {report.evidence} raw evidence item(s) to "
                      f"{report.target}.")
        for line in report.problems:
            console.print(f"[red]✗[/] {line}", highlight=False, soft_wrap=True)
        if not report.problems:
            console.print("[green]OK[/] verify found the campaign intact there. From now on run "
                          "with --db URL (or set $QUALIBENCH_DB_URL).")
    if report.problems:
        raise QualibenchError(f"verify found {len(report.problems)} problem(s) after the move",
                              "do not switch to the new database; keep working on the old one and report it")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
