"""`qualibench demo`: a whole campaign run by the real pipeline against the demo world.

The world (qualibench.world) starts mail servers, a brand web site and a fake X API on
127.0.0.1, with simulated brands and a virtual clock, in a process of its own (world/process.py)
that reads this process's clock. The campaign is then planned, sent,
collected, scored, analysed, awarded and reported by the same library functions a real
campaign uses; only the clock and the servers are simulated. The campaign's 18 days (sending,
then the observation windows) pass in seconds: the clock jumps from one event (a send slot, a
brand's reply) to the next.
"""

from __future__ import annotations

import csv
import gc
import io
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from .channels.reuse import keep_connections
from .demo_folder import MARKER as MARKER  # re-exported: tests and callers use demo.MARKER
from .demo_folder import prepare_demo_folder, record_demo_files
from .errors import QualibenchError
from .models import Probe, ProbeState, Reply
from .workspace import Workspace
from .world import DemoWorld, SimBrand
from .world.process import WorldProcess
from .world.timeline import StageTimer, run_campaign_time

Progress = Callable[[str, int, int], None]  # (stage, done, total)

PASSWORD_ENV = "QB_DEMO_SHOPPER_PASSWORD"  # noqa: S105 -- a variable name, not a secret
TOKEN_ENV = "QB_DEMO_X_TOKEN"  # noqa: S105 -- a variable name, not a secret
WAVE_START = date(2026, 3, 2)  # a Monday, so the first send slots open at once
# Requests every simulated sector can receive (a bank, an airline and a shop all bill, run
# customer accounts and sell subscriptions): no retail shop asked about a fibre plan.
DEMO_SCENARIOS = ("billing-wrong-invoice-fr", "technical-login-fr", "commercial-pricing-subscription-en")


@dataclass
class DemoResult:
    """What a demo run produced: the campaign folder, figures, trophies and report paths."""

    folder: Path
    brands: int
    probes: int = 0
    sent: int = 0
    undeliverable: int = 0
    replies: int = 0
    answered: int = 0
    answer_rate: float = 0.0  # answered / probes sent (a human answer, acks excluded)
    median_delay_hours: float | None = None  # Kaplan-Meier over every test sent; None = not reached
    answered_median_hours: float | None = None  # median among answered tests only
    by_channel: dict[str, dict[str, Any]] = field(default_factory=dict)
    trophies: list[str] = field(default_factory=list)
    html: Path | None = None
    pdf: Path | None = None
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # wall seconds per stage
    stage_cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of this process
    virtual_days: float = 0.0
    missing: list[str] = field(default_factory=list)  # stages this install cannot run

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items()}
        for k in ("folder", "html", "pdf"):
            out[k] = str(out[k]) if out[k] else None
        return out


def _optional(module: str, name: str, missing: list[str]) -> Any:
    """Return module.name, or None (noting it) when this install does not have it yet."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        missing.append(f"{module}.{name}")
        return None


@contextmanager
def _fewer_collections():  # type: ignore[no-untyped-def]
    """Run the garbage collector's young generations less often during the demo, restored
    after: a campaign allocates millions of short-lived rows, and the default thresholds
    made it walk the whole heap (every object the run keeps) a few times per brand for no
    memory saved (30 brands: 0.96 s of collector CPU, 0.33 s with these; same peak RSS)."""
    old = gc.get_threshold()
    gc.set_threshold(10_000, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def _env(values: dict[str, str]):  # type: ignore[no-untyped-def]
    """Set environment variables for the run and restore them after (secrets stay in-process)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def brands_csv(brands: list[SimBrand], site_url: str = "") -> str:
    """Return the brands table of the world's brands in the campaign's brands.csv format."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "sector", "country", "timezone", "opening_hours", "email",
                "contact_form_url", "x_handle"])
    for b in brands:
        form = f"{site_url.rstrip('/')}/{b.key}/contact" if site_url else ""
        country = "BE" if b.timezone == "Europe/Brussels" else "FR"
        w.writerow([b.name, b.sector, country, b.timezone, b.opening_hours, b.email, form,
                    "@" + b.x_handle if b.x_handle else ""])
    return buf.getvalue()


def _channels(world: DemoWorld | WorldProcess) -> tuple[str, ...]:
    from .channels.base import load_channels

    available = set(load_channels())
    chosen = ["email"]
    if world.site is not None and "webform" in available:
        chosen.append("webform")
    if world.xapi is not None and "x" in available:
        chosen.append("x")
    return tuple(chosen)


def write_campaign(world: DemoWorld | WorldProcess, out: Path, *, brands: int, seed: int, lang: str,
                   channels: tuple[str, ...]) -> None:
    """Write a campaign folder whose accounts point at the world's servers."""
    from .campaign.init import init_campaign

    init_campaign(
        out, brands=brands, seed=seed, channels=channels, scenarios=3, start=WAVE_START,
        scenario_ids=list(DEMO_SCENARIOS),
        language=lang, name="Baromètre démo" if lang == "fr" else "Demo benchmark",
        edition=str(WAVE_START.year), force=True, per_domain_seconds=5,
        mail={"username": world.shopper_user, "smtp_host": "127.0.0.1",
              "smtp_port": world.smtp_port, "smtp_security": "plain", "imap_host": "127.0.0.1",
              "imap_port": world.imap_port, "imap_security": "plain",
              "password_env": PASSWORD_ENV},
        x_api={"token_env": TOKEN_ENV, "api_base": world.x_api_url} if world.xapi else None,
        site_url=world.site_url or None,
    )
    (out / "brands.csv").write_text(brands_csv(world.brands, world.site_url), encoding="utf-8")
    # the cover names who commissioned and who signs the report: say plainly it is a simulation
    toml = out / "campaign.toml"
    client, author = (("Démonstration (marques simulées)", "qualibench, monde de démonstration") if lang == "fr"
                      else ("Demonstration (simulated brands)", "qualibench demo world"))
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        '# client = "..."', f'client = "{client}"', 1).replace('# author = "..."', f'author = "{author}"', 1),
        encoding="utf-8")


def prepare_campaign(world: DemoWorld | WorldProcess, out: Path, *, brands: int, seed: int = 0,
                     lang: str = "fr", db_url: str | None = None,
                     channels: tuple[str, ...] | None = None) -> Workspace:
    """Write and plan a campaign against `world` in `out`; return its Workspace (world clock).

    The shopper's password must be in $QB_DEMO_SHOPPER_PASSWORD when the pipeline runs
    (`demo_env(world)` sets it for the current process).
    """
    from .planning import plan_campaign

    write_campaign(world, out, brands=brands, seed=seed, lang=lang,
                   channels=channels or _channels(world))
    ws = Workspace.open(out, db_url, clock=world.clock)
    world.teach_scenarios(list(ws.spec().scenarios))
    plan_campaign(ws)
    return ws


def demo_env(world: DemoWorld | WorldProcess, seed: int = 0):  # type: ignore[no-untyped-def]
    """Return a context manager putting the world's secrets in this process's environment."""
    return _env({PASSWORD_ENV: world.shopper_password, TOKEN_ENV: "demo-token-" + str(seed)})


def run_demo(out: Path, *, brands: int = 30, seed: int = 0, lang: str = "fr",
             progress: Progress | None = None, db_url: str | None = None,
             formats: tuple[str, ...] = ("html", "pdf"),
             channels: tuple[str, ...] | None = None) -> DemoResult:
    """Run a whole demo campaign into folder `out` and return its figures and report paths.

    `channels` defaults to every channel the world and this install support.
    """
    if lang not in ("fr", "en"):
        raise QualibenchError(f"language {lang!r} is not available", "use --lang fr or --lang en")
    if not 1 <= brands <= 5000:
        raise QualibenchError(f"--brands {brands} is out of range", "use 1 to 5000 brands")
    with _fewer_collections():
        return _run_demo(out, brands, seed, lang, progress, db_url, formats, channels)


def _run_demo(out: Path, brands: int, seed: int, lang: str, progress: Progress | None,
              db_url: str | None, formats: tuple[str, ...],
              channels: tuple[str, ...] | None) -> DemoResult:
    started = time.perf_counter()
    out = Path(out).resolve()
    result = DemoResult(folder=out, brands=brands)
    timer = StageTimer()
    prepare_demo_folder(out)
    start = datetime.combine(WAVE_START, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    with timer.stage("world"):
        # The world's servers run in a process of their own: the second core serves them,
        # and they no longer share this process's interpreter lock with the pipeline.
        world = WorldProcess(brands=brands, seed=seed, start=start,
                             shopper_domains=("shopper.example", "alias.shopper.example")).launch()
        try:
            _import_pipeline()  # while the world's process starts its servers
            world.ready()
        except BaseException:
            world.stop()
            raise
    try:
        with demo_env(world, seed):
            with timer.stage("plan"):
                ws = prepare_campaign(world, out, brands=brands, seed=seed, lang=lang,
                                      db_url=db_url, channels=channels)
                with ws.session() as s:
                    result.probes = len(list(s.exec(select(Probe.id))))
            # The fortnight's hundreds of send runs share their SMTP, IMAP and HTTP connections.
            with keep_connections():
                run_campaign_time(ws, world, timer, progress=progress)
            result.virtual_days = (world.clock.now() - start).total_seconds() / 86400
            _finish(ws, result, timer, lang, formats, progress)
    finally:
        with timer.stage("world"):
            world.stop()
    result.stages = timer.stages
    result.stage_cpu = timer.cpu
    _figures(ws, result)
    record_demo_files(out)
    result.seconds = time.perf_counter() - started
    return result


def _import_pipeline() -> None:
    """Import what the campaign will run (it would be imported on first use anyway)."""
    import importlib

    for module in ("qualibench.planning", "qualibench.sending", "qualibench.collecting",
                   "qualibench.channels.base", "qualibench.analytics"):
        importlib.import_module(module)
    from .channels.base import load_channels

    load_channels()


def _finish(ws: Workspace, result: DemoResult, timer: StageTimer, lang: str,
            formats: tuple[str, ...], progress: Progress | None) -> None:
    """Close windows, score, analyse, award and report with whatever this install provides."""
    missing = result.missing
    close_windows = _optional("qualibench.timing", "close_windows", missing)
    score_campaign = _optional("qualibench.scorer", "score_campaign", missing)
    write_report = _optional("qualibench.report", "write_report", missing)
    if close_windows:
        with timer.stage("close"):
            close_windows(ws)
    if score_campaign:
        with timer.stage("score"):
            score_campaign(ws)
    trophies = _trophies(ws, missing)
    result.trophies = trophies
    if write_report:
        with timer.stage("report"):
            paths = write_report(ws, formats=formats, lang=lang, out=ws.root / "report")
        _report_paths(result, paths)


def _trophies(ws: Workspace, missing: list[str]) -> list[str]:
    """Return one line per trophy: category, scope and winners (or why it was not awarded)."""
    analyse = _optional("qualibench.analytics", "analyse", missing)
    compute = _optional("qualibench.awards", "compute_trophies", missing)
    if not (analyse and compute):
        return []
    with ws.session() as s:
        cid = ws.campaign(s).id
    analysis = analyse(ws, cid)
    lines = []
    for t in compute(analysis):
        name = t.category.replace("_", "-") + (f" ({t.scope})" if t.scope else "")
        if t.awarded and t.winners:
            who = " = ".join(f"{w.brand} {w.index:.1f}" for w in t.winners)
            lines.append(f"{name}: {who}" + (" (ex aequo)" if t.ex_aequo else ""))
        else:
            lines.append(f"{name}: not awarded ({t.reason})")
    return lines


def _report_paths(result: DemoResult, paths: Any) -> None:
    items = paths.values() if isinstance(paths, dict) else (
        paths if isinstance(paths, list | tuple) else [paths])
    for p in items:
        p = Path(p)
        if p.suffix == ".html":
            result.html = p
        elif p.suffix == ".pdf":
            result.pdf = p


def _figures(ws: Workspace, result: DemoResult) -> None:
    """Fill the summary figures from the Analysis the report is drawn from (same names, same values).

    median_delay_hours is the Kaplan-Meier median over every test sent (None: not reached);
    answered_median_hours is the median among answered tests only, named apart.
    """
    from .analytics import analyse

    with ws.session() as s:
        cid = ws.campaign(s).id
        probes = list(s.exec(select(Probe).where(Probe.campaign_id == cid)))
        result.replies = len(list(s.exec(select(Reply.id).where(Reply.campaign_id == cid))))
        analysis = analyse(s, cid, as_of=ws.clock.now())
    result.probes = len(probes)
    result.undeliverable = sum(p.state == ProbeState.UNDELIVERABLE.value for p in probes)
    o = analysis.overall
    result.sent, result.answered = int(o.get("tests", 0)), int(o.get("answered", 0))
    result.answer_rate = float(o.get("answer_rate", 0.0) or 0.0)
    result.median_delay_hours = _hours_or_none(o.get("median_h"))
    result.answered_median_hours = _hours_or_none(o.get("answered_median_h"))
    for r in analysis.channels.to_dict("records"):
        result.by_channel[r["channel"]] = {
            "probes": sum(p.channel == r["channel"] for p in probes), "sent": int(r["tests"]),
            "answered": int(r["answered"]), "answer_rate": float(r["answer_rate"]),
            "median_delay_hours": _hours_or_none(r["median_h"]),
            "answered_median_hours": _hours_or_none(r["answered_median_h"]),
        }


def _hours_or_none(v) -> float | None:  # type: ignore[no-untyped-def]
    return None if v is None or v != v else float(v)
