"""What `qualibench collect` prints: the per-folder table and the summary line.

Free of typer and the ORM so that the quick entry (launch.py) prints exactly what the full
command prints. Folder names come from the mail server: cells are Text, never markup.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text


def summary_table(report: Any) -> Table:
    """Return the "Collected" table: one row per folder of the pass."""
    table = Table(title="Collected", show_lines=False)
    for column in ("folder", "new", "duplicates", "MB", "resynced", "seconds"):
        table.add_column(column, justify="left" if column == "folder" else "right")
    for f in report.folders:
        table.add_row(Text(f"{f.account}/{f.folder}"), str(f.new), str(f.duplicates),
                      f"{f.bytes / 1e6:.1f}", "yes" if f.resynced else "", f"{f.seconds:.2f}")
    return table


def summary_line(report: Any) -> str:
    """Return the line saying what became of the pass's messages."""
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.by_kind.items())) or "none"
    return (
        f"{report.new} new message(s), {report.api_items} API item(s); {report.matched} matched "
        f"({kinds}), {report.unmatched} unmatched, {report.unparseable} unparseable, "
        f"{report.needs_review} to review, {report.censored} censored at window end; "
        f"{report.seconds:.1f} s"
    )
