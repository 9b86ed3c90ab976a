"""What the report templates see: formatted figures, summary, trophies, rankings, charts, sheets.

Every figure comes from the Analysis (qualibench.analytics) and the trophies from
qualibench.awards: the report formats them, it computes no figure of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml
from sqlmodel import Session, func, select

from ..awards import (
    TIE_BREAKS,
    Trophy,
    column_values,
    listing_ranks,
    published_ranks,
    rank_table,
    rules_text,
)
from ..campaign.limits import SAFE_LOADER
from ..models import Persona, Score, Wave
from .awards_view import palmares, trophy_view
from .brand_sheets import SheetsInBackground, brand_sheets, excerpt_tools
from .chart_worker import ChartWorker
from .formatting import Formatter, missing
from .summary import executive_summary

FIGURE_PCTS = ("answer_rate", "ack_rate", "undeliverable_rate", "within_1h", "within_4h", "within_24h",
               "within_window", "business_within_1h", "business_within_4h", "business_within_24h",
               "business_within_window")


def load_labels(lang: str, dirs: list[Path]) -> dict:
    """Return the label catalogue of `lang`: the package's, overlaid by a user template dir's."""
    files = [d / "i18n" / f"{lang}.yaml" for d in reversed(dirs)]
    stamp = tuple((str(p), p.stat().st_mtime_ns) for p in files if p.exists())
    return dict(_read_labels(stamp))


@lru_cache(maxsize=16)
def _read_labels(stamp: tuple) -> dict:
    # parsed once per process and file version: YAML parsing cost more than a chart
    labels: dict = {}
    for path, _mtime in stamp:
        labels.update(yaml.load(Path(path).read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {})  # noqa: S506 - libyaml's safe loader
    return labels


def figures(r, f: Formatter) -> dict:
    """Return the formatted figures of one row of an Analysis table (brand, channel, sector...)."""
    get = r.get  # dicts and pandas rows alike
    out = {k: f.pct(get(k)) for k in FIGURE_PCTS}
    return out | {
        "tests": int(get("tests") or 0), "answered": int(get("answered") or 0),
        "median": f.median(get("median_h")), "business_median": f.median(get("business_median_h")),
        "answered_median": f.hours(get("answered_median_h")),
        "quality": f.num(get("quality")), "quality_all": f.num(get("quality_all")),
        "index": f.num(get("index")), "delay_score": f.num(get("delay_score"))}


RANKING_COLUMNS = ("brand_key", "brand", "sector", "index", "index_low", "index_high", "tests", "answer_rate",
                   "median_h", "delay_score", "quality_all", "quality")


def _ranked(df: pd.DataFrame, rules):
    """Return (ranked, sector_avg, avg_of, col): df's rows with an index in ranking order, the
    mean index of each sector (a Series, and a dict of its numpy floats) and the columns as lists."""
    # only the columns a row shows or is ranked by: the brands table is four times wider
    keep = [c for c in dict.fromkeys([*RANKING_COLUMNS, *(TIE_BREAKS[k][0] for k in rules.tie_break if k in TIE_BREAKS)])
            if c in df.columns]
    ranked = rank_table(df.loc[df["index"].notna(), keep], rules)
    sector_avg = ranked.groupby("sector")["index"].mean()
    # numpy floats, as the Series gave them: a row's lead over its sector is computed as before
    avg_of = dict(zip(column_values(sector_avg.index), sector_avg.to_numpy(), strict=True))
    # the columns as plain lists (the values to_dict("records") gives), read row by row
    col = {c: column_values(ranked[c]) for c in keep}
    for c in ("index_low", "index_high"):
        col.setdefault(c, [None] * len(ranked))
    return ranked, sector_avg, avg_of, col


def _rows(col: dict, positions, ranks: list[int], avg_of: dict, rules, f: Formatter,
          channels: list[str] | None, ch_index: dict) -> list[dict]:
    num, pct, median = f.num, f.pct, f.median
    rows = []
    for i, rank in zip(positions, ranks, strict=True):
        index, sector, tests = col["index"][i], col["sector"][i], int(col["tests"][i])
        avg = avg_of.get(sector)
        rows.append({
            "rank": rank, "brand": col["brand"][i], "sector": f.sector(sector),
            "index": num(index, rules.precision),
            "ci": f"{num(col['index_low'][i])} – {num(col['index_high'][i])}",
            "sector_avg": num(avg), "vs_sector": f.signed(index - avg) if not missing(avg) else "–",
            "tests": tests, "answer_rate": pct(col["answer_rate"][i]), "median": median(col["median_h"][i]),
            "delay_score": num(col["delay_score"][i]), "quality_all": num(col["quality_all"][i]),
            "quality": num(col["quality"][i]),
            "channels": [num(ch_index.get((col["brand_key"][i], c))) for c in (channels or [])],
            "caution": tests < rules.min_tests_per_brand})
    return rows


def ranking(df: pd.DataFrame, rules, f: Formatter, *, channels: list[str] | None = None,
            per_channel: pd.DataFrame | None = None) -> dict:
    """Return a ranking table: listing ranks (equal published indices share one), sector averages."""
    ranked, sector_avg, avg_of, col = _ranked(df, rules)
    ch_index = {}
    if per_channel is not None:
        ch_index = dict(zip(zip(column_values(per_channel["brand_key"]), column_values(per_channel["channel"]), strict=True),
                            per_channel["index"].tolist(), strict=True))
    rows = _rows(col, range(len(ranked)), published_ranks(ranked, rules), avg_of, rules, f, channels, ch_index)
    return {"rows": rows, "channels": [f.channel(c) for c in (channels or [])],
            "sector_avgs": [{"sector": f.sector(s), "index": f.num(v)} for s, v in sector_avg.sort_values(
                ascending=False).items()],
            "average": f.num(ranked["index"].mean())}


def sector_rankings(df: pd.DataFrame, rules, f: Formatter, sectors: list) -> dict:
    """Return sector -> ranking(df's brands of that sector), for each of `sectors`, from one ranking.

    A sector's brands keep their order of the whole ranking (the order is total: brand keys
    break every tie), and its mean is the one the whole ranking computes for it; only the
    listing ranks are the sector's own.
    """
    ranked, sector_avg, avg_of, col = _ranked(df, rules)
    rounded = ranked["index"].round(rules.precision).tolist()
    at: dict = {}
    for i, sector in enumerate(col["sector"]):
        at.setdefault(sector, []).append(i)
    out = {}
    for sector in sectors:
        positions = at.get(sector, [])
        mean = pd.Series([col["index"][i] for i in positions], dtype=float).mean()
        out[sector] = {
            "rows": _rows(col, positions, listing_ranks(rounded[i] for i in positions), avg_of, rules, f, None, {}),
            "channels": [],
            "sector_avgs": [{"sector": f.sector(sector), "index": f.num(avg_of[sector])}] if positions else [],
            "average": f.num(mean)}
    return out


def criteria_rows(analysis, f: Formatter) -> list[dict]:
    """Return per channel the mean points of each criterion with its maximum and share."""
    rows = []
    for r in analysis.criteria.to_dict("records"):
        rows.append({"channel": f.channel(r["channel"]),
                     "cells": [{"points": f.num(r[f"crit_{c}"]), "share": f.pct(r[f"crit_{c}"] / m)}
                               for c, m in analysis.criterion_max.items()]})
    return rows


def build_context(session: Session, analysis, trophies: list[Trophy], *, lang: str, labels: dict,
                  pseudonymise_excerpts: bool, now: datetime | None = None,
                  charts: ChartWorker | None = None, sheets_env=None, sheets: SheetsInBackground | None = None) -> dict:
    """Return the whole template context of the report.

    Its "charts" are placeholders: pass the rendered text through `charts.fill` (the worker given,
    else a new one in ctx["chart_worker"]), which draws them here or waits for its process.
    """
    L, rules = labels, analysis.rules
    f = Formatter(lang, labels)
    charts = charts or ChartWorker.start(len(analysis.tests))
    placeholders = charts.submit(analysis, f)
    cid = analysis.campaign["id"]
    tests = analysis.tests
    # the two columns read here: filtering every column of the tests (their texts) costs more
    sent = tests.loc[tests["sent"], [c for c in ("sent_at", "window_ends_at") if c in tests]]
    chs = list(analysis.channels["channel"])
    bc = analysis.brand_channel
    trophy_views = [trophy_view(t, rules, f) for t in trophies]
    overall = ranking(analysis.brands, rules, f, channels=chs, per_channel=bc) | {"title": L["overall"]}
    rankings = [ranking(bc[bc["channel"] == c], rules, f) | {"title": f.channel(c)} for c in chs]
    excerpt = None if sheets else excerpt_tools(session, cid, L, pseudonymise_excerpts)
    # with the package's templates (`sheets_env`), a large report's sheets render in a forked process
    # (`sheets`: forked already, by write_report)
    sheets = sheets or SheetsInBackground(session, analysis, f, excerpt, sheets_env,
                                          fork=sheets_env is not None and charts.large)
    sectors = []
    ordered = analysis.sectors.sort_values("index", ascending=False).to_dict("records")
    by_sector = sector_rankings(analysis.brands, rules, f, [s["sector"] for s in ordered])
    for s in ordered:
        sectors.append({"name": f.sector(s["sector"]), "brands": int(s["brands"]), "fig": figures(s, f),
                        "ranking": by_sector[s["sector"]]})
    cfg = analysis.campaign["config"] or {}
    rub = session.exec(select(Score.rubric_name, Score.rubric_version).where(Score.campaign_id == cid)
                       .order_by(Score.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    slots = cfg.get("send_slots", {}) or {}
    reminder = cfg.get("reminder", {}) or {}
    waves = session.exec(select(Wave).where(Wave.campaign_id == cid).order_by(Wave.number)).all()
    personas = session.exec(select(func.count()).select_from(Persona).where(Persona.campaign_id == cid)).one()
    start, end = sent["sent_at"].min(), sent["sent_at"].max()
    window_end = sent["window_ends_at"].max() if "window_ends_at" in sent else end
    comparison = None
    if analysis.comparison:
        comparison = {
            "brands": [{"brand": r["brand"], "now": f.num(r["index"]), "before": f.num(r["index_previous"]),
                        "delta": f.signed(r["delta"])} for r in analysis.comparison["brands"].to_dict("records")],
            "sectors": [{"sector": f.sector(r["sector"]), "now": f.num(r["index"]),
                         "before": f.num(r["index_previous"]), "delta": f.signed(r["delta"])}
                        for r in analysis.comparison["sectors"].to_dict("records")]}
    scen_titles = f.scenario_names(analysis)
    return {
        "lang": lang, "L": L, "campaign": analysis.campaign,
        "cover": build_cover(analysis, f),
        "generated": f.date((now or datetime.now(UTC)).date()),
        "summary": executive_summary(analysis, trophies, f),
        "key": {"brands": int(analysis.brands["brand_key"].nunique()), "tests": int(len(sent)),
                "channels": len(chs), "cross_share": f.pct(analysis.cross_channel_share),
                **figures(analysis.overall, f)},
        "channels": [{"channel": f.channel(r["channel"]), **figures(r, f)} for r in analysis.channels.to_dict("records")],
        "scenarios": [{"title": scen_titles.get(r["scenario"], r["scenario_title"]), "kind": f.kind(r["kind"]), "language": f.language(r["language"]),
                       **figures(r, f)} for r in analysis.scenarios.to_dict("records")],
        "cross": [{"scenario": scen_titles.get(r["scenario"], r["scenario"]), "brands": int(r["brands"]),
                   "share": f.pct(r["share"])} for r in analysis.cross_channel.to_dict("records")],
        "trophies": trophy_views, "palmares": palmares(trophy_views),
        "rankings": rankings, "overall": overall, "charts": placeholders, "chart_worker": charts,
        "criteria": {"names": [f.criterion(c) for c in analysis.criterion_max],
                     "maxima": [f.num(m, 0) for m in analysis.criterion_max.values()],
                     "rows": criteria_rows(analysis, f)},
        "sectors": sectors,
        "sector_criteria": [{"sector": f.sector(r["sector"]),
                             "shares": [f.pct(r.get(f"share_{c}")) for c in analysis.criterion_max]}
                            for r in analysis.sector_criteria.to_dict("records")],
        "brands": [] if sheets.placeholder else brand_sheets(session, analysis, f, excerpt),
        "brand_sheets_html": sheets.placeholder, "sheets": sheets,
        "comparison": comparison,
        "method": {
            "window_days": analysis.campaign["window_days"],
            "reminder": (L["reminder_after"].format(days=reminder.get("after_days", 7))
                         if reminder.get("enabled") else L["no_reminder"]),
            "slot_days": _slot_days(slots.get("days", "mon-fri"), f),
            "slot_hours": L["and"].join(f.time_span(h) for h in slots.get("hours", ["09:00-12:00", "14:00-17:00"])),
            "rubric": f"{L.get('rubric_' + rub[0], rub[0])} ({L['version']} {rub[1][:12]})" if rub else "–",
            "criteria": [{"name": f.criterion(c), "max": f.num(m, 0)} for c, m in analysis.criterion_max.items()],
            "rules": rules_text(rules), "rule_text": L[f"rule_{rules.rule}"].format(precision=rules.precision),
            "tie_break": [L.get("tb_" + k, k) for k in rules.tie_break if k in TIE_BREAKS],
            "weights": ", ".join(f"{f.channel(c)} {f.num(w, 0)}" for c, w in rules.channel_weights.items()) or L["equal"],
            "confidence": f.pct(rules.confidence), "caution": f.pct(rules.caution_probability),
            "social": ", ".join(f.channel(c) for c in rules.social_channels),
            "period": f.period(start, end), "observed_until": f.date(window_end),
            "waves": [{"label": _wave_label(w, L), "start": f.date(w.starts_on),
                       "spread": w.spread_days} for w in waves],
            "counts": {"brands": int(analysis.brands["brand_key"].nunique()), "tests": int(len(sent)),
                       "personas": int(personas), "scenarios": int(len(analysis.scenarios)),
                       "waves": len(waves), "channels": len(chs),
                       "not_sent": int((~tests["sent"]).sum()) if len(tests) else 0},
        },
        "glossary": L.get("glossary", {}),
    }


def build_cover(analysis, f: Formatter) -> dict:
    """Return the cover's facts: name, edition, test period, client and author (campaign.toml)."""
    camp_cfg = (analysis.campaign["config"] or {}).get("campaign", {}) or {}
    tests = analysis.tests
    sent = tests.loc[tests["sent"], ["sent_at", "window_ends_at"]]
    return {"name": analysis.campaign["name"], "edition": analysis.campaign["edition"],
            "client": str(camp_cfg.get("client", "") or ""), "author": str(camp_cfg.get("author", "") or ""),
            "period": f.period(sent["sent_at"].min(), sent["sent_at"].max()),
            "observed_until": f.date(sent["window_ends_at"].max())}


def _wave_label(w, L: dict) -> str:
    # a wave named by default ("Wave 2") reads in the report's language; a name given stays
    default = not w.label or w.label.strip().lower() in (f"wave {w.number}", f"vague {w.number}")
    return f"{L['wave']} {w.number}" if default else w.label


def _slot_days(days, f: Formatter) -> str:
    text = days if isinstance(days, str) else ",".join(days)
    return f.days(text) or text
