"""`qualibench demo`: run a whole campaign against servers started inside the tool."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import console, print_json, state


def demo(
    brands: int = typer.Option(30, "--brands", "-n", help="Number of simulated brands."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulation (same seed, same run)."),
    lang: str = typer.Option("fr", "--lang", help="Report language: fr or en."),
    out: Path = typer.Option(Path("qualibench-demo"), "--out", "-o",
                             help="Folder for the demo campaign and its report."),
    open_report: bool = typer.Option(False, "--open", help="Open the HTML report when done."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run a whole campaign (plan, send, collect, score, award, report) on a simulated world.

    SMTP, IMAP, a brand web site and a fake X API start on 127.0.0.1 in a child process,
    simulated brands answer on a virtual clock, and the real pipeline writes the report.
    Nothing outside the machine is contacted; every server stops at the end.
    """
    from ..demo import run_demo

    if json_out:
        result = run_demo(out, brands=brands, seed=seed, lang=lang, db_url=state.db_url)
        print_json(result.as_dict())
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("Campaign in virtual time", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_demo(out, brands=brands, seed=seed, lang=lang, progress=progress,
                          db_url=state.db_url)
    _print_summary(result)
    if open_report and result.html:
        webbrowser.open(result.html.as_uri())


def _hours(value: float | None) -> str:
    # the Kaplan-Meier median is None when fewer than half the tests were ever answered
    return "not reached" if value is None else f"{value:.1f} h"


def _print_summary(result) -> None:  # type: ignore[no-untyped-def]
    console.print(
        f"[bold]Demo campaign[/]: {result.brands} brands, {result.probes} probes, "
        f"{result.sent} sent, {result.undeliverable} undeliverable; "
        f"{result.virtual_days:.0f} days simulated in {result.seconds:.1f} s",
        soft_wrap=True,
    )
    table = Table("Channel", "Probes", "Sent", "Answered", "Answer rate", "Median delay (KM, all sent)",
                  "Median among answered")
    for ch, row in result.by_channel.items():
        table.add_row(ch, str(row["probes"]), str(row["sent"]), str(row["answered"]),
                      f"{row['answer_rate']:.0%}", _hours(row["median_delay_hours"]),
                      _hours(row["answered_median_hours"]))
    table.add_row("[bold]all[/]", str(result.probes), str(result.sent), str(result.answered),
                  f"{result.answer_rate:.0%}", _hours(result.median_delay_hours),
                  _hours(result.answered_median_hours))
    console.print(table)
    awarded = [t for t in result.trophies if "not awarded" not in t]
    if awarded:
        console.print("[bold]Trophies[/]")
        for line in awarded:
            console.print(f"  {line}", highlight=False)
    if len(awarded) < len(result.trophies):
        console.print(f"{len(result.trophies) - len(awarded)} categories not awarded "
                      "(too few candidates or tests; the report says why)")
    if result.missing:
        console.print(f"[yellow]Not run (not in this install):[/] {', '.join(result.missing)}")
    console.print(f"Campaign folder: {result.folder}", soft_wrap=True)
    if result.html:
        console.print(f"HTML report: {result.html}", soft_wrap=True)
    if result.pdf:
        console.print(f"PDF report:  {result.pdf}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(demo)
