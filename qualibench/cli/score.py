"""`qualibench score` (score what is unscored, explain, score a text file) and `qualibench rescore`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import console, open_workspace, print_json
from .terminal import highlighted, plain, shown

score_app = typer.Typer(
    help="Score the campaign's answers against the rubric (scores only what is not scored yet).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


@score_app.callback()
def score(
    ctx: typer.Context,
    rubric: str | None = typer.Option(None, "--rubric", help="Rubric name in scoring/rubrics/ or a YAML path; default: the campaign's."),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Score every answer and redirect that has no automatic score under the rubric."""
    if ctx.invoked_subcommand is not None:
        return
    from ..scorer.campaign import score_campaign

    ws = open_workspace()  # no campaign here: its one-line error before any progress bar
    with _progress_bar() as bar:
        task = bar.add_task("scoring", total=None)
        report = score_campaign(ws, rubric=rubric,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
    if json_out:
        print_json({"rubric": report.rubric_name, "rubric_version": report.rubric_version,
                    "scored": report.scored, "already_scored": report.already_scored,
                    "not_scored_kinds": report.not_scored_kinds, "seconds": round(report.seconds, 3)})
        return
    console.print(f"Scored {report.scored} repl{'y' if report.scored == 1 else 'ies'} with rubric "
                  f"{report.rubric_name} ({report.rubric_version}); {report.already_scored} already scored.")
    if report.not_scored_kinds:
        left = ", ".join(f"{n} {k}" for k, n in sorted(report.not_scored_kinds.items()))
        console.print(f"Not scored as answers: {left}.")


@score_app.command("explain")
def explain(
    reply_id: int = typer.Argument(..., help="The reply's id (see `qualibench audit export`)."),
    json_out: bool = typer.Option(False, "--json", help="Print the scores and evidence as JSON."),
) -> None:
    """Print a reply with the spans that earned or cost points highlighted, and points per criterion."""
    from ..scorer.explain import explain_reply

    ex = explain_reply(open_workspace(), reply_id)
    if json_out:
        print_json({
            "reply_id": ex.reply_id, "kind": ex.kind, "rubric_version": ex.rubric_version,
            "auto": None if ex.auto is None else {"total": ex.auto.total, "criteria": ex.auto.criteria,
                                                  "evidence": ex.auto.evidence},
            "effective": None if ex.effective is None else {
                "total": ex.effective.total, "criteria": ex.effective.criteria, "source": ex.effective.source,
                "needs_adjudication": ex.effective.needs_adjudication},
            "history": [{"scorer": s.scorer, "total": s.total, "justification": s.justification} for s in ex.history],
        })
        return
    styles = [(span["start"], span["end"], "bold green" if span["points"] > 0 else "bold red")
              for spans in (ex.auto.evidence.values() if ex.auto is not None else ())
              for span in spans if 0 <= span["start"] < span["end"] <= len(ex.text)]
    text = highlighted(ex.text, styles)
    console.print(f"[bold]Reply {ex.reply_id}[/] ({shown(ex.kind)}), rubric version {shown(ex.rubric_version or 'none')}")
    console.rule()
    console.print(text, soft_wrap=True)
    console.rule()
    if ex.auto is None:
        console.print("No automatic score yet: run `qualibench score`.")
        return
    table = Table("criterion", "points", "evidence")
    for crit, pts in ex.auto.criteria.items():
        lines = [f"{s['points']:+g} {s['why']}" + (f" «{s['text']}»" if s["text"] else "")
                 for s in ex.auto.evidence.get(crit, [])]
        table.add_row(plain(crit), f"{pts:g}", plain("\n".join(lines) or "-", newlines=True))
    table.add_row("[bold]total[/]", f"[bold]{ex.auto.total:g}[/]", "")
    console.print(table)
    if ex.effective is not None and ex.effective.source != "auto":
        flag = " [red](needs adjudication)[/]" if ex.effective.needs_adjudication else ""
        console.print(f"Score that counts: {ex.effective.total:g} from {shown(ex.effective.source)}{flag}")


@score_app.command("text")
def score_text(
    scenario: Path = typer.Option(..., "--scenario", help="Scenario YAML (key points, language, body)."),
    reply: Path = typer.Option(..., "--reply", help="Text file holding the reply to score."),
    rubric: str | None = typer.Option(None, "--rubric", help="Rubric YAML or name; default: default."),
    persona: str = typer.Option("", "--persona", help="The customer's full name, for personalisation."),
    fill: list[str] = typer.Option([], "--fill", help="A placeholder value the request carried, KEY=VALUE (repeatable)."),
    channel: str = typer.Option("email", "--channel", help="email, webform or x (X: the tweet's questions, its courtesy rules)."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score one reply file against a scenario, without a campaign (for rubric authors and auditors)."""
    from ..errors import QualibenchError
    from ..scorer.explain import score_files

    fills = {}
    for item in fill:
        key, sep, value = item.partition("=")
        if not sep:
            raise QualibenchError(f"--fill {item!r} is not KEY=VALUE", "write e.g. --fill order_number=CMD-123456")
        fills[key.strip()] = value.strip()
    if channel not in ("email", "webform", "x"):
        raise QualibenchError(f"--channel {channel!r} is not a channel the scorer knows", "use email, webform or x")
    result, version = score_files(scenario, reply, rubric, persona_name=persona, fills=fills, channel=channel)
    if json_out:
        print_json({"rubric_version": version, **result.to_dict()})
        return
    table = Table("criterion", "points", "evidence")
    for crit, pts in result.criteria.items():
        lines = [f"{s.points:+g} {s.why}" + (f" «{s.text}»" if s.text else "") for s in result.evidence.get(crit, [])]
        table.add_row(plain(crit), f"{pts:g}", plain("\n".join(lines) or "-", newlines=True))
    table.add_row("[bold]total[/]", f"[bold]{result.total:g}[/]", "")
    console.print(table)
    for note in result.notes:
        console.print(f"Note: {shown(note)}")


def rescore(
    rubric: str = typer.Option(..., "--rubric", help="The other rubric: a YAML path or a name in scoring/rubrics/."),
    diff: bool = typer.Option(True, "--diff/--no-diff", help="Show the brands that move in the ranking."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Apply another rubric to the whole campaign as new score rows (old rows stay) and show ranking moves."""
    from ..scorer.campaign import rescore_campaign

    ws = open_workspace()
    with _progress_bar() as bar:
        task = bar.add_task("rescoring", total=None)
        report = rescore_campaign(ws, rubric, diff=diff,
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))
    if json_out:
        print_json({"old_version": report.old_version, "new_version": report.new_version,
                    "scored": report.score.scored, "seconds": round(report.score.seconds, 3),
                    "moves": [m.__dict__ for m in report.moves], "ranking": [m.__dict__ for m in report.ranking]})
        return
    console.print(f"Rubric {report.score.rubric_name} ({report.new_version}): {report.score.scored} new score rows "
                  f"in {report.score.seconds:.1f} s; previous version {report.old_version or 'none'} kept.")
    if not diff:
        return
    if not report.moves:
        console.print("No brand changes rank.")
        return
    table = Table("brand", "old rank", "new rank", "old mean", "new mean", "why (mean points per criterion, new - old)")
    for m in report.moves:
        why = ", ".join(f"{c} {d:+.1f}" for c, d in sorted(m.criteria_change.items(), key=lambda kv: -abs(kv[1]))
                        if abs(d) >= 0.05) or "-"
        table.add_row(m.brand, str(m.old_rank or "-"), str(m.new_rank),
                      "-" if m.old_mean is None else f"{m.old_mean:g}", f"{m.new_mean:g}", why)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(score_app, name="score")
    app.command("rescore")(rescore)
