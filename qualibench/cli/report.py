"""`qualibench report`, `qualibench export` and `qualibench awards`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from .common import console, open_workspace, print_json


def register(app: typer.Typer) -> None:
    """Add the report, export and awards commands to `app`."""

    @app.command("report")
    def report_cmd(
        fmt: str = typer.Option("html,pdf", "--format", help="Comma-separated: html, pdf."),
        lang: str = typer.Option("", "--lang", help="fr or en (default: the campaign's language)."),
        out: Path = typer.Option(Path("reports-out"), "--out", help="Folder to write the report into."),
        templates: Path | None = typer.Option(None, "--templates", help="Folder of templates overriding the defaults."),
        pseudonymise: bool = typer.Option(False, "--pseudonymise", help="Replace agent names and customer data in excerpts."),
        previous: str | None = typer.Option(None, "--previous", help="Previous edition: database URL or export file/folder."),
    ) -> None:
        """Write the award report (HTML and/or PDF) of the campaign."""
        from ..report import write_report

        ws = open_workspace()
        language = lang or _campaign_language(ws)
        formats = tuple(f.strip() for f in fmt.split(",") if f.strip())
        with console.status("Writing the report..."):
            paths = write_report(ws, formats=formats, lang=language, out=out, template_dir=templates,
                                 pseudonymise=pseudonymise, previous=previous)
        for p in paths:
            console.print(f"wrote {p}")

    @app.command("export")
    def export_cmd(
        fmt: str = typer.Option("csv", "--format", help="csv, xlsx or parquet."),
        out: Path = typer.Option(Path("export"), "--out", help="Folder to write the files into."),
    ) -> None:
        """Export one row per test and the aggregate tables (the numbers of the report)."""
        from ..export import export_campaign

        with console.status("Exporting..."):
            paths = export_campaign(open_workspace(), fmt, out)
        for p in paths:
            console.print(f"wrote {p}")

    @app.command("awards")
    def awards_cmd(as_json: bool = typer.Option(False, "--json", help="Print the trophies as JSON.")) -> None:
        """Print the trophies with their reasons: index, margin, interval, tests, nominees."""
        from ..analytics import analyse
        from ..awards import compute_trophies
        from ..report import campaign_id_of, require_sent_tests

        ws = open_workspace()
        with ws.session() as s:
            analysis = analyse(s, campaign_id_of(ws, s), as_of=ws.clock.now())
        require_sent_tests(analysis)
        trophies = compute_trophies(analysis)
        if as_json:
            print_json([t.as_dict() for t in trophies])
            return
        table = Table(title="Trophies")
        for col in ("Trophy", "Winner(s)", "Index [95% CI]", "Margin [CI]", "Tests", "Nominees", "Note"):
            table.add_column(col)
        for t in trophies:
            name = t.category.replace("_", " ") + (f": {t.scope}" if t.scope else "")
            if not t.awarded:
                table.add_row(name, "—", "", "", "", str(len(t.nominees)), escape(t.reason))
                continue
            w = t.winners[0]
            table.add_row(
                name, escape(" = ".join(x.brand for x in t.winners)) + (" (ex aequo)" if t.ex_aequo else ""),
                f"{w.index:.1f} [{w.low:.1f}–{w.high:.1f}]", f"{t.margin:.1f} [{t.margin_low:.1f}–{t.margin_high:.1f}]",
                str(w.tests), str(len(t.nominees)), escape(t.reason))
        console.print(table)


def _campaign_language(ws) -> str:
    if (ws.root / "campaign.toml").exists():
        return ws.spec().config.language
    return "fr"
