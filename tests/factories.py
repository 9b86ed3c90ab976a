"""Build real campaign folders for tests: `qualibench init` output, adjusted, then planned."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from qualibench.campaign.init import init_campaign
from qualibench.clock import Clock
from qualibench.planning import plan_campaign
from qualibench.workspace import Workspace


def make_campaign(
    tmp_path: Path,
    db_url: str,
    *,
    brands: int = 3,
    channels: tuple[str, ...] = ("email",),
    clock: Clock | None = None,
    plan: bool = True,
    start: date | None = None,
    **init_options,
) -> Workspace:
    """Return a Workspace on a fresh campaign folder under `tmp_path` (planned unless plan=False).

    `init_options` go to init_campaign: mail={...} to point the shopper account at test servers,
    scenario_ids=[...], seed=..., site_url=..., x_api={...}, per_domain_seconds=...
    """
    folder = tmp_path / "campaign"
    init_campaign(folder, brands=brands, channels=channels, start=start or date(2026, 11, 30),
                  force=True, **init_options)
    ws = Workspace.open(folder, db_url, clock=clock)
    if plan:
        plan_campaign(ws)
    return ws
