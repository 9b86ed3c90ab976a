"""Commands that set a campaign up: init, check, plan, status, config show."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from ..errors import InvalidInput
from .common import console, err_console, open_workspace, print_json, state
from .terminal import plain, shown

SHORT_LABELS = {"undeliverable": "undeliv."}
config_app = typer.Typer(help="Show the campaign's resolved configuration.", no_args_is_help=True)


def init(
    folder: Path = typer.Argument(..., help="Folder to create the campaign in."),
    brands: int = typer.Option(6, help="Number of example brands to write."),
    force: bool = typer.Option(False, help="Overwrite an existing campaign.toml."),
) -> None:
    """Create a campaign folder with working examples (campaign.toml, brands, personas, scenarios)."""
    from ..campaign.init import init_campaign

    path = init_campaign(folder, brands=brands, force=force)
    console.print(f"Created [bold]{shown(path.parent)}[/]: campaign.toml, brands.csv, personas.csv, scenarios/")
    console.print(f"Next: cd {shown(folder)} && qualibench check && qualibench plan && qualibench status")


def check(json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Validate campaign.toml, the brands and personas files and the scenarios; list every problem."""
    from ..campaign.loader import check_campaign

    spec, problems = check_campaign(Path(state.campaign_dir))
    errors = [p for p in problems if p.severity == "error"]
    if json_out:
        print_json({"ok": not errors, "problems": [p.__dict__ for p in problems]})
        if errors:
            raise typer.Exit(3)
        return
    for p in problems:
        if p.severity != "error":
            err_console.print(f"[yellow]warning:[/] {shown(p.line())}", highlight=False, soft_wrap=True)
    if errors or spec is None:
        raise InvalidInput(problems)
    cfg = spec.config
    console.print(
        f"[green]OK[/] {shown(cfg.name)} {shown(cfg.edition)}: {len(spec.brands)} brands, {len(spec.personas)} personas, "
        f"{len(spec.scenarios)} scenarios, channels {', '.join(cfg.channels)}, {len(cfg.waves)} wave(s)",
        soft_wrap=True,
    )


def plan(json_out: bool = typer.Option(False, "--json", help="Print the result as JSON.")) -> None:
    """Create the probes (brand x channel x scenario x wave); running it again adds only what is missing."""
    ws = open_workspace()
    from ..planning import plan_campaign

    result = plan_campaign(ws)
    if json_out:
        print_json({"created": result.created, "existing": result.existing,
                    "by_channel": dict(result.by_channel), "not_testable": result.not_testable})
        return
    console.print(f"Planned [bold]{result.created}[/] new probe(s); {result.existing} already planned.")
    for ch, n in sorted(result.by_channel.items()):
        console.print(f"  {ch}: {n}")
    if result.not_testable:
        console.print(f"[yellow]{len(result.not_testable)} brand/channel pair(s) not testable (no contact point).[/]")


def status(
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    brands: bool = typer.Option(False, "--brands", help="Also show one row per brand."),
) -> None:
    """Show, per channel (and brand), how many probes are planned, sent, answered, pending, failed, censored."""
    from ..status import COLUMNS, campaign_status

    st = campaign_status(open_workspace())
    if json_out:
        print_json(st.as_dict())
        return
    for title, data in (("channel", st.by_channel), *((("brand", st.by_brand),) if brands else ())):
        # Compact enough for 80 columns: no vertical rules, names fold, numbers never do.
        table = Table(title=f"{shown(st.campaign)} — by {title}", box=box.SIMPLE_HEAD,
                      show_edge=False, pad_edge=False, collapse_padding=True)
        table.add_column(title, overflow="fold", ratio=1)
        for col in COLUMNS:
            label = SHORT_LABELS.get(col, col) if console.width < 100 else col
            table.add_column(label, justify="right", no_wrap=True)
        for name, counts in data.items():
            table.add_row(plain(name), *(str(counts[c]) for c in COLUMNS))
        table.add_row("[bold]all[/]", *(f"[bold]{st.totals[c]}[/]" for c in COLUMNS))
        console.print(table)
    console.print(f"Replies recorded: {st.replies}; waiting in the inbox (unmatched): {st.unmatched}")


@config_app.command("show")
def config_show(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Print the resolved configuration; secrets are shown as references, never as values."""
    from ..campaign.loader import check_campaign

    spec, problems = check_campaign(Path(state.campaign_dir))
    if spec is None:
        raise InvalidInput(problems)
    cfg = spec.config
    from ..db import redact_url, resolve_url

    data = {
        "name": cfg.name, "edition": cfg.edition, "slug": cfg.slug, "seed": cfg.seed,
        "database": redact_url(resolve_url(spec.root, state.db_url)),
        "channels": list(cfg.channels),
        "waves": [{"label": w.label, "start": w.starts_on.isoformat(), "spread_days": w.spread_days} for w in cfg.waves],
        "window_days": cfg.window_days, "reminder": cfg.reminder.__dict__,
        "rubric": cfg.rubric, "awards": {k: v for k, v in cfg.awards.__dict__.items()},
        "accounts": {n: a.redacted() for n, a in cfg.accounts.items()},
        "brands": len(spec.brands), "personas": len(spec.personas), "scenarios": [s.id for s in spec.scenarios],
    }
    if json_out:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {shown(value)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(check)
    app.command()(plan)
    app.command()(status)
    app.add_typer(config_app, name="config")
