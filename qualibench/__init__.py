"""qualibench: mystery-shopping benchmarks of online customer service.

The public API, loaded lazily so that `import qualibench` stays cheap:

    Workspace.open(folder, db_url=None, clock=None)   the handle on one campaign
    load_campaign(folder) / check_campaign(folder)     campaign files -> CampaignSpec / problems
    init_campaign(folder, ...)                         a campaign folder with working examples
    plan_campaign(ws)                                  probes: brand x channel x scenario x wave
    campaign_status(ws)                                counts per channel and brand
    send_due_probes(ws, ...)                           dispatch (crash-safe outbox)
    collect(ws)                                        IMAP and API collection, matching, timing
    score_campaign(ws) / rescore_campaign(ws, rubric)  rubric scores with evidence
    analyse(...) / compute_trophies(...)               analytics and awards
    write_report(ws, ...) / export_campaign(ws, ...)   HTML/PDF report, CSV/XLSX/Parquet
    verify_campaign(ws)                                evidence hashes and event chain
    run_demo(out, ...)                                 the whole pipeline on the demo world
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "Workspace": "qualibench.workspace",
    "load_campaign": "qualibench.campaign.loader",
    "check_campaign": "qualibench.campaign.loader",
    "init_campaign": "qualibench.campaign.init",
    "plan_campaign": "qualibench.planning",
    "campaign_status": "qualibench.status",
    "send_due_probes": "qualibench.sending",
    "collect": "qualibench.collecting",
    "score_campaign": "qualibench.scorer",
    "rescore_campaign": "qualibench.scorer",
    "analyse": "qualibench.analytics",
    "compute_trophies": "qualibench.awards",
    "write_report": "qualibench.report",
    "export_campaign": "qualibench.export",
    "verify_campaign": "qualibench.verify",
    "run_demo": "qualibench.demo",
    "QualibenchError": "qualibench.errors",
    "InvalidInput": "qualibench.errors",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'qualibench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
