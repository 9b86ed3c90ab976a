"""`qualibench audit`: XLSX sheets for double coding, their import, single overrides, agreement."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ..errors import QualibenchError
from .common import console, open_workspace, print_json

audit_app = typer.Typer(help="Auditors' workflow: export/import XLSX sheets, override one score, agreement.",
                        no_args_is_help=True)


@audit_app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="XLSX file to write."),
    blind: bool = typer.Option(False, "--blind", help="Leave out the automatic scores and evidence (double coding)."),
    rubric: str | None = typer.Option(None, "--rubric", help="Rubric to audit against; default: the latest scoring run's."),
) -> None:
    """Write an XLSX sheet of the campaign's answers with empty score columns for an auditor."""
    from ..scorer.audit import export_audit_sheet

    n = export_audit_sheet(open_workspace(), out, blind=blind, rubric=rubric)
    console.print(f"Wrote {n} repl{'y' if n == 1 else 'ies'} to {out}{' (blind)' if blind else ''}.")


@audit_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="The filled XLSX sheet."),
    auditor: str = typer.Option("", "--auditor", help="Who scored the sheet (recorded as auditor:NAME)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Record each filled row as a new score by the auditor; a sheet with problems imports nothing."""
    from ..scorer.audit import import_audit_sheet

    report = import_audit_sheet(open_workspace(), file, auditor)
    if json_out:
        print_json(report.__dict__)
        return
    console.print(f"Recorded {report.recorded} score(s) by auditor:{report.auditor} "
                  f"(rubric {report.rubric_version}); {report.left_empty} row(s) left empty.")


@audit_app.command("set")
def set_(
    reply_id: int = typer.Argument(..., help="The reply's id."),
    criterion: list[str] = typer.Option(..., "--criterion", help="CRITERION=POINTS, e.g. empathy=15 (repeatable)."),
    auditor: str = typer.Option("", "--auditor", help="Who overrides (recorded as auditor:NAME)."),
    why: str = typer.Option("", "--why", help="The justification, kept with the score."),
    adjudicate: bool = typer.Option(False, "--adjudicate", help="Settle a disagreement between auditors (wins over them)."),
    rubric: str | None = typer.Option(None, "--rubric", help="Rubric the points refer to; default: the latest scoring run's."),
) -> None:
    """Override the points of one reply on some criteria; the other criteria keep their current points."""
    from ..scorer.audit import set_override

    points: dict[str, float] = {}
    for item in criterion:
        key, sep, value = item.partition("=")
        try:
            points[key.strip()] = float(value.replace(",", "."))
        except ValueError:
            sep = ""
        if not sep:
            raise QualibenchError(f"--criterion {item!r} is not CRITERION=POINTS",
                                  "write e.g. --criterion empathy=15")
    row = set_override(open_workspace(), reply_id, points, auditor, why, adjudicate=adjudicate, rubric=rubric)
    console.print(f"Reply {reply_id}: {row.scorer} scores {row.total:g} "
                  f"({', '.join(f'{k} {v:g}' for k, v in row.criteria.items())}).")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@audit_app.command("agreement")
def agreement(
    top: int = typer.Option(10, "--top", help="How many of the largest gaps to list."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
    rubric: str | None = typer.Option(None, "--rubric", help="Rubric version (hash or prefix) or rubric file; default: the latest scoring run's."),
) -> None:
    """Print per-criterion agreement (weighted kappa, Krippendorff's alpha) and the largest gaps."""
    from ..scorer.agreement import agreement_report

    report = agreement_report(open_workspace(), top=top, rubric=rubric)
    if json_out:
        print_json({
            "rubric_version": report.rubric_version, "scorers": report.scorers,
            "pairs": [p.__dict__ for p in report.pairs], "auditors_alpha": report.auditors_alpha,
            "gaps": [{**g.__dict__, "gap": g.size} for g in report.gaps],
        })
        return
    if len(report.scorers) < 2:
        console.print(f"Fewer than two scorers under rubric {report.rubric_version}: import an auditor's "
                      "sheet first, or pass --rubric with the version the auditors coded against.")
        return
    console.print(f"Rubric version {report.rubric_version}")
    table = Table("scorers", "criterion", "replies", "kappa (quadratic)", "alpha (interval)")
    for p in report.pairs:
        table.add_row(f"{p.first} / {p.second}", p.criterion, str(p.replies), _fmt(p.kappa), _fmt(p.alpha))
    console.print(table)
    if report.auditors_alpha:
        console.print("All auditors together (alpha): " +
                      ", ".join(f"{c} {_fmt(a)}" for c, a in report.auditors_alpha.items()))
    if report.gaps:
        gaps = Table("reply", "criterion", "scorers", "points", "gap")
        for g in report.gaps:
            gaps.add_row(str(g.reply_id), g.criterion, f"{g.first} / {g.second}",
                         f"{g.first_points:g} / {g.second_points:g}", f"{g.size:g}")
        console.print(gaps)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
