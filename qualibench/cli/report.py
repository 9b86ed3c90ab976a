"""`qualibench report`, `qualibench export` and `qualibench awards`."""

from __future__ import annotations

import gc
import math
import sys
from contextlib import contextmanager
from pathlib import Path

import typer
from rich import box
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .common import console, open_workspace, print_json, state
from .terminal import plain, shown, visible


def register(app: typer.Typer) -> None:
    """Add the report, export and awards commands to `app`."""

    @app.command("report")
    def report_cmd(
        fmt: str = typer.Option("", "--format", help="Comma-separated: html, pdf (default html,pdf; none with --per-brand)."),
        lang: str = typer.Option("", "--lang", help="fr or en (default: the campaign's language)."),
        out: Path = typer.Option(Path("reports-out"), "--out", help="Folder to write the report into."),
        templates: Path | None = typer.Option(None, "--templates", help="Folder of templates overriding the defaults."),
        pseudonymise: bool = typer.Option(False, "--pseudonymise", help="Replace agent names and customer data in excerpts."),
        previous: str | None = typer.Option(None, "--previous", help="Previous edition: database URL or export file/folder."),
        per_brand: bool = typer.Option(False, "--per-brand", help="One PDF per brand (its fiche) in OUT/brands/."),
        workers: int = typer.Option(0, "--workers", help="Processes writing the per-brand PDFs (default: one per core)."),
        timings: bool = typer.Option(False, "--timings", help="Print how long each step took (analytics, html, pdf, per_brand)."),
    ) -> None:
        """Write the award report (HTML and/or PDF) of the campaign."""
        from ..report.chart_worker import ChartWorker

        formats = tuple(f.strip() for f in (fmt or ("" if per_brand else "html,pdf")).split(",") if f.strip())
        _without_parquet_support(previous)
        # From the start: the imports below alone ran some 300 cycle collections (a tenth of a
        # second) over objects that live as long as the command.
        with _no_cycle_collection(not per_brand):
            # First of all, while this process has no thread and has not loaded the database layer,
            # pandas or jinja: the chart process imports matplotlib on the other core meanwhile
            # (write_report keeps it for a large report, else stops it).
            if formats and not per_brand:
                import numpy  # noqa: F401 - both processes need it: loaded once, before the fork
            charts = ChartWorker.early() if formats and not per_brand else None
            try:
                from ..report import Phases, write_report

                ws = open_workspace()
                language = lang or _campaign_language(ws)
            except BaseException:
                if charts is not None:
                    charts.close()
                raise
            phases = Phases()
            # A status line without rich's refresh thread: with no other thread, a large report draws
            # its charts in a forked process while this one builds the tables.
            with Live(Text("Writing the report..."), console=console, auto_refresh=False, transient=True):
                paths = write_report(ws, formats=formats, lang=language, out=out, template_dir=templates,
                                     pseudonymise=pseudonymise, previous=previous, per_brand=per_brand,
                                     workers=workers or None, phases=phases, charts=charts)
        brand_pdfs = [p for p in paths if p.parent.name == "brands"]
        for p in paths:
            if p not in brand_pdfs:
                console.print(f"wrote {shown(p)}")
        if brand_pdfs:
            console.print(f"wrote {len(brand_pdfs)} brand report(s) in {shown(brand_pdfs[0].parent)}")
        if timings:
            # CPU of this process; Chromium's printing runs in processes of its own
            console.print(f"timings: {phases.text()}", highlight=False, soft_wrap=True)
        state.quick_exit = True  # everything is written: the process may end without its teardown

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
            console.print(f"wrote {shown(p)}")

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
        figures = headline_figures(analysis)
        if as_json:
            print_json({"figures": figures, "trophies": [t.as_dict() for t in trophies]})
            return
        for table in trophy_tables(trophies, analysis.rules):
            console.print(table)
        console.print(plain(headline_text(figures)), highlight=False)


def _without_parquet_support(previous: str | None) -> None:
    """Have this process run as if the optional Parquet extra (pyarrow) were not installed.

    pandas imports pyarrow whenever it is installed (a tenth of a second) and then keeps every
    text column in it, which the report's tables pay for at each conversion (more than the
    import at 500 brands). The report reads no Parquet file unless --previous names an export,
    and gives the same document either way (pandas keeps text in its own columns without the
    extra). Only when the command owns its process (the console script, not a test runner's
    app) and pandas is not loaded yet: pandas decides at its import, for the whole process.
    """
    if previous is None and state.whole_process and "pandas" not in sys.modules:
        sys.modules.setdefault("pyarrow", None)  # an import of it raises ImportError, as when absent


@contextmanager
def _no_cycle_collection(active: bool):
    """Pause Python's cycle collector while one report is imported and written (restored after).

    A 500-brand report holds a few million live objects (tables, rows, formatted cells); each
    full collection walks them all, about a fifth of the command's time, to find the few
    reference cycles it leaves. They are not freed afterwards either: the command ends right after,
    and its objects (with the modules') are frozen, so the collection that runs at interpreter exit
    (a fifth of a second) does not walk them. Not for the per-brand PDFs: their worker processes
    are long-lived.
    """
    if not active or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        # The command ends once the report is written: what it allocated is moved out of the
        # collector's reach rather than walked again by the collection at interpreter exit.
        gc.freeze()
        gc.enable()


def headline_figures(analysis) -> dict:
    """Return the campaign's headline figures under the names the report and exports use."""
    o = analysis.overall

    def plain(v):
        return None if v is None or v != v else round(float(v), 4)
    return {"tests": int(o.get("tests", 0)), "answered": int(o.get("answered", 0)),
            "answer_rate": plain(o.get("answer_rate")), "within_24h": plain(o.get("within_24h")),
            "median_h": plain(o.get("median_h")), "answered_median_h": plain(o.get("answered_median_h")),
            "quality": plain(o.get("quality"))}


def headline_text(fig: dict) -> str:
    """Return the headline figures as one terminal line (KM median: "not reached" when undefined)."""
    def hours(v):
        return "not reached" if v is None else f"{v:.1f} h"
    rate = "–" if fig["answer_rate"] is None else f"{fig['answer_rate']:.0%}"
    return (f"{fig['tests']} tests, answer rate {rate}; median delay (Kaplan-Meier, all sent tests): "
            f"{hours(fig['median_h'])}; median among answered tests: "
            f"{'–' if fig['answered_median_h'] is None else hours(fig['answered_median_h'])}")


def _interval(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return ""
    if math.isnan(low) or math.isnan(high):
        return f"{value:.1f}"
    return f"{value:.1f}\n[{low:.1f}–{high:.1f}]"  # the interval on its own line: fits 80 columns


def trophy_tables(trophies, rules) -> list[Table]:  # type: ignore[no-untyped-def]
    """Return the trophies as two tables readable at 80 columns: the awarded, the not awarded.

    The figures are those of the report's cards: published index, lead over the runner-up and
    its bootstrap interval, probability of truly ranking first, cautions.
    """
    won = Table(title=f"Trophies (rule: {rules.rule}; index at {rules.precision} decimal)", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                collapse_padding=True)
    won.add_column("Trophy", min_width=16)
    won.add_column("Winner(s)", overflow="fold", ratio=1)
    # the nominees' count goes under the trophy's name: seven columns do not fit 80 characters
    for col in ("Index (CI)", "Lead (CI)", "Tests", "P(first)"):
        won.add_column(col, justify="right")
    missed = Table(title="Not awarded", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                   collapse_padding=True)
    missed.add_column("Trophy")
    missed.add_column("Nominees", justify="right")
    missed.add_column("Why", ratio=1)
    notes: list[str] = []
    for t in trophies:
        name = t.category.replace("_", " ") + (f": {t.scope}" if t.scope else "")
        if not t.awarded:
            missed.add_row(plain(name), str(len(t.nominees)), plain(t.reason))
            continue
        w = t.winners[0]
        winners = " = ".join(x.brand for x in t.winners) + (" (ex aequo)" if t.ex_aequo else "")
        won.add_row(plain(name) + f"\n{len(t.nominees)} nominees", plain(winners), _interval(w.index, w.low, w.high),
                    _interval(t.margin, t.margin_low, t.margin_high),
                    str(w.tests), "" if math.isnan(t.p_first) else f"{t.p_first:.0%}")
        if t.reason:
            notes.append(f"{name}: {t.reason}")
        for c in t.cautions:
            notes.append(f"{name}: " + {"uncertain": f"caution, P(first) below {rules.caution_probability:.0%}",
                                       "few_tests": f"caution, fewer than {rules.min_tests_per_brand} tests"}.get(c, c))
    tables = [won] if won.row_count else []
    if notes:
        won.caption = "\n".join(visible(n) for n in notes)
        won.caption_justify = "left"
    if missed.row_count:
        tables.append(missed)
    return tables


def _campaign_language(ws) -> str:
    if (ws.root / "campaign.toml").exists():
        return ws.spec().config.language
    return "fr"
