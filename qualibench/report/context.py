"""What the report templates see: formatted figures, rankings, trophies, charts, fact sheets."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml
from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from sqlmodel import Session, select

from ..awards import TIE_BREAKS, Trophy, rank_table, rules_text
from ..models import Persona, Probe, Reply, Score
from ..survival import km_curve
from .charts import grouped_bars, km_chart
from .pseudonym import pseudonymise, signature_names

EXCERPT_CHARS = 320


def load_labels(lang: str, dirs: list[Path]) -> dict:
    """Return the label catalogue of `lang`: the package's, overlaid by a user template dir's."""
    labels: dict = {}
    for d in reversed(dirs):
        f = d / "i18n" / f"{lang}.yaml"
        if f.exists():
            labels.update(yaml.safe_load(f.read_text(encoding="utf-8")) or {})
    return labels


class Formatter:
    """Locale-aware number, percentage, hour and date formatting (babel)."""

    def __init__(self, lang: str) -> None:
        self.locale = Locale.parse({"fr": "fr_FR", "en": "en_GB"}.get(lang, lang))
        # A report formats tens of thousands of figures drawn from few distinct values.
        self._num = lru_cache(maxsize=65536)(self._num_uncached)
        self._pct = lru_cache(maxsize=4096)(self._pct_uncached)

    def _num_uncached(self, v: float, digits: int) -> str:
        return format_decimal(v, format="#,##0." + "0" * digits if digits else "#,##0", locale=self.locale)

    def _pct_uncached(self, v: float) -> str:
        return format_percent(v, locale=self.locale)

    def num(self, v, digits: int = 1) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return self._num(round(float(v), digits), digits)

    def pct(self, v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return self._pct(round(float(v), 4))

    def hours(self, v) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return f"{self.num(v, 1)} h"

    def date(self, d) -> str:
        if d is None or pd.isna(d):
            return "–"
        return self._date(d.date() if isinstance(d, datetime) else d)

    @lru_cache(maxsize=4096)  # noqa: B019 - one Formatter per report, dates repeat
    def _date(self, d) -> str:
        return format_date(d, format="long", locale=self.locale)


def _trophy_view(t: Trophy, L: dict, f: Formatter) -> dict:
    title = L[f"trophy_{t.category}"] + (f" — {L.get('ch_' + t.scope, t.scope)}" if t.scope else "")
    view = {"title": title, "awarded": t.awarded, "ex_aequo": t.ex_aequo, "nominees": len(t.nominees),
            "winners": [{"brand": w.brand, "index": f.num(w.index), "low": f.num(w.low), "high": f.num(w.high),
                         "tests": w.tests} for w in t.winners],
            "margin": f.num(t.margin), "margin_low": f.num(t.margin_low), "margin_high": f.num(t.margin_high),
            "runner_up": t.runner_up.brand if t.runner_up else None}
    if not t.awarded:
        view["why"] = L["not_awarded"] + " " + (
            L["why_few_brands"] if "in the sector" in t.reason else L["why_few_candidates"])
    elif t.ex_aequo:
        view["why"] = L["why_ex_aequo"]
    else:
        view["why"] = L["why_significant"]
    return view


def _ranking_rows(df: pd.DataFrame, rules, f: Formatter) -> list[dict]:
    rows = []
    ranked = rank_table(df[df["index"].notna()], rules)
    for rank, r in enumerate(ranked.to_dict("records"), start=1):
        rows.append({"rank": rank, "brand": r["brand"], "sector": r["sector"], "index": f.num(r["index"]),
                     "ci": f"{f.num(r['index_low'])} – {f.num(r['index_high'])}", "tests": int(r["tests"]),
                     "answer_rate": f.pct(r["answer_rate"]), "median": f.hours(r["median_h"]),
                     "quality": f.num(r["quality"]), "delay_score": f.num(r["delay_score"]),
                     "eligible": int(r["tests"]) >= rules.min_tests_per_brand})
    return rows


def _figures(r, f: Formatter) -> dict:
    return {k: f.pct(r[k]) for k in ("answer_rate", "ack_rate", "undeliverable_rate", "within_1h", "within_4h",
                                     "within_24h", "within_window", "business_within_1h", "business_within_4h",
                                     "business_within_24h", "business_within_window")} | {
        "tests": int(r["tests"]), "median": f.hours(r["median_h"]), "business_median": f.hours(r["business_median_h"]),
        "quality": f.num(r["quality"]), "quality_all": f.num(r["quality_all"]), "index": f.num(r.get("index")),
        "delay_score": f.num(r["delay_score"])}


def _excerpt_tools(session: Session, campaign_id: int, L: dict, pseudo: bool):
    personas = {p.id: p for p in session.exec(select(Persona).where(Persona.campaign_id == campaign_id))}
    probes = {p.id: (p.persona_id, p.fills) for p in session.exec(select(Probe).where(Probe.campaign_id == campaign_id))}
    sigs = {r.id: r.signature for r in session.exec(select(Reply).where(Reply.campaign_id == campaign_id))}
    labels = {"email": L["pseudo_email"], "phone": L["pseudo_phone"], "order": L["pseudo_order"],
              "agent": L["pseudo_agent"], "customer": L["pseudo_customer"]}

    def excerpt(text: str, reply_id, probe_id) -> str:
        text = (text or "").strip()
        if pseudo:
            persona_id, fills = probes.get(probe_id, (None, {}))
            p = personas.get(persona_id)
            customer = [f"{p.first_name} {p.last_name}", p.last_name, p.first_name, p.phone] if p else []
            agents = signature_names(sigs.get(reply_id, "") or "")
            agents += [part for n in agents for part in n.split()]
            text = pseudonymise(text, customer=customer, agents=agents,
                                tokens=[str(v) for v in (fills or {}).values()], labels=labels)
        text = " ".join(text.split())  # an excerpt reads as one paragraph, blank lines cost pages
        return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"
    return excerpt


def build_context(session: Session, analysis, trophies: list[Trophy], *, lang: str, labels: dict,
                  pseudonymise_excerpts: bool, now: datetime | None = None) -> dict:
    """Return the whole template context of the report."""
    L, f, rules = labels, Formatter(lang), analysis.rules
    cid = analysis.campaign["id"]
    tests = analysis.tests
    sent = tests[tests["sent"]]
    chs = list(analysis.channels["channel"])
    ch_label = lambda c: L.get("ch_" + c, c)  # noqa: E731
    curves = {ch_label(c): km_curve(g["time_h"].to_numpy(float), g["answered"].to_numpy(bool))
              for c, g in sent.groupby("channel")}
    bcurves = {ch_label(c): km_curve(g["business_time_h"].to_numpy(float), g["answered"].to_numpy(bool))
               for c, g in sent.groupby("channel")}
    buckets = {L[b]: list(analysis.channels[b]) for b in ("within_1h", "within_4h", "within_24h", "within_window")}
    crit_cols = [c for c in analysis.criteria.columns if c.startswith("crit_")]
    criteria = {ch_label(r["channel"]): [r[c] for c in crit_cols] for _, r in analysis.criteria.iterrows()}
    crit_names = [L.get("crit_" + c[5:], c[5:]) for c in crit_cols]
    crit_max = max([v for vals in criteria.values() for v in vals if v == v] or [1.0])
    charts = {
        "km": km_chart(curves, analysis.window_h, L["chart_km"], L["hours_after_sending"], f.pct),
        "km_business": km_chart(bcurves, analysis.window_h, L["chart_km_business"], L["business_hours"], f.pct),
        "buckets": grouped_bars([ch_label(c) for c in chs], buckets, L["chart_buckets"], f.pct),
        "criteria": grouped_bars(crit_names, criteria, L["chart_criteria"], lambda v: f.num(v, 1),
                                 vmax=crit_max * 1.15) if crit_cols else None,
    }
    trophy_views = [_trophy_view(t, L, f) for t in trophies]
    bc = analysis.brand_channel
    rankings = [{"title": ch_label(c), "rows": _ranking_rows(bc[bc["channel"] == c], rules, f)} for c in chs]
    overall = {"title": L["overall"], "rows": _ranking_rows(analysis.brands, rules, f)}
    excerpt = _excerpt_tools(session, cid, L, pseudonymise_excerpts)
    brands = []
    brand_rows = rank_table(analysis.brands, rules)
    # Plain dicts grouped once: per-brand DataFrames cost more than the whole rest of the report.
    by_brand: dict[str, list[dict]] = {}
    for t in sent.to_dict("records"):
        by_brand.setdefault(t["brand_key"], []).append(t)
    scen_titles = dict(zip(analysis.scenarios["scenario"], analysis.scenarios["scenario_title"], strict=True))
    bc_by_brand: dict[str, list[dict]] = {}
    for r in bc.to_dict("records"):
        bc_by_brand.setdefault(r["brand_key"], []).append(r)
    for b in brand_rows.to_dict("records"):
        bt = by_brand[b["brand_key"]]
        scored = sorted((t for t in bt if t["answered"] and t["quality"] == t["quality"]),
                        key=lambda t: t["quality"])
        best = scored[-1] if scored else None
        worst = scored[0] if len(scored) > 1 else None
        brands.append({
            "name": b["brand"], "sector": b["sector"], "key": b["brand_key"], "fig": _figures(b, f),
            "ci": f"{f.num(b['index_low'])} – {f.num(b['index_high'])}",
            "consistency": (f"{L['quality_word']} {f.num(b['quality_consistency'])}"
                            f" · {L['substance']} {f.num(b['substance_consistency'])}")
            if b.get("quality_consistency") == b.get("quality_consistency") else "",
            "channels": [{"channel": ch_label(r["channel"]), **_figures(r, f)} for r in bc_by_brand[b["brand_key"]]],
            "grid": _test_grid(bt, scen_titles, ch_label, L, f),
            "best": {"quality": f.num(best["quality"]), "text": excerpt(best["answer_text"], best["first_answer_reply_id"], best["probe_id"])} if best is not None else None,
            "worst": {"quality": f.num(worst["quality"]), "text": excerpt(worst["answer_text"], worst["first_answer_reply_id"], worst["probe_id"])} if worst is not None else None,
        })
    sectors = []
    for s in analysis.sectors.to_dict("records"):
        members = analysis.brands[analysis.brands["sector"] == s["sector"]]
        sectors.append({"name": s["sector"], "brands": int(s["brands"]), "fig": _figures(s, f),
                        "rows": _ranking_rows(members, rules, f)})
    cfg = analysis.campaign["config"] or {}
    rub = session.exec(select(Score.rubric_name, Score.rubric_version).where(Score.campaign_id == cid)
                       .order_by(Score.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    slots = cfg.get("send_slots", {}) or {}
    reminder = cfg.get("reminder", {}) or {}
    key = analysis.channels
    all_f = _figures(pd.Series(_pooled(analysis)), f)
    comparison = None
    if analysis.comparison:
        comparison = {
            "source": analysis.comparison["source"],
            "brands": [{"brand": r["brand"], "now": f.num(r["index"]), "before": f.num(r["index_previous"]),
                        "delta": f.num(r["delta"])} for _, r in analysis.comparison["brands"].iterrows()],
            "sectors": [{"sector": r["sector"], "now": f.num(r["index"]), "before": f.num(r["index_previous"]),
                         "delta": f.num(r["delta"])} for _, r in analysis.comparison["sectors"].iterrows()]}
    return {
        "lang": lang, "L": L, "campaign": analysis.campaign,
        "generated": f.date((now or datetime.now(UTC)).date()),
        "key": {"brands": int(analysis.brands["brand_key"].nunique()), "tests": int(len(sent)),
                "channels": len(key), "cross_share": f.pct(analysis.cross_channel_share), **all_f},
        "channels": [{"channel": ch_label(r["channel"]), **_figures(r, f)} for _, r in key.iterrows()],
        "scenarios": [{"title": r["scenario_title"], "kind": L.get("kind_" + r["kind"], r["kind"]),
                       "language": r["language"].upper(), **_figures(r, f)} for _, r in analysis.scenarios.iterrows()],
        "cross": [{"scenario": r["scenario"], "brands": int(r["brands"]), "share": f.pct(r["share"])}
                  for _, r in analysis.cross_channel.iterrows()],
        "trophies": trophy_views, "rankings": rankings, "overall": overall, "charts": charts,
        "sectors": sectors, "brands": brands, "comparison": comparison,
        "method": {
            "window_days": analysis.campaign["window_days"],
            "reminder": (L["reminder_after"].format(days=reminder.get("after_days", 7))
                         if reminder.get("enabled") else L["no_reminder"]),
            "slot_days": slots.get("days", "mon-fri"),
            "slot_hours": ", ".join(slots.get("hours", ["09:00-12:00", "14:00-17:00"])),
            "rubric": f"{rub[0]} ({rub[1][:12]})" if rub else "–",
            "rules": rules_text(rules),
            "tie_break": [L.get("tb_" + k, k) for k in rules.tie_break if k in TIE_BREAKS],
            "weights": ", ".join(f"{ch_label(c)} {f.num(w, 0)}" for c, w in rules.channel_weights.items()) or L["equal"],
            "confidence": f.pct(rules.confidence),
        },
        "glossary": L.get("glossary", {}),
    }


def _test_grid(bt: list[dict], scen_titles: dict, ch_label, L: dict, f: Formatter) -> dict:
    """Return a brand's tests as a channel x scenario grid; each cell lists its tests' outcomes.

    A grid has a few cells where a row per test has many, which keeps 500-brand PDFs fast.
    """
    cells: dict[tuple[str, str], list[dict]] = {}
    for t in bt:
        state = "answered" if t["answered"] else ("undeliverable" if t["undeliverable"] else "unanswered")
        cells.setdefault((t["channel"], t["scenario"]), []).append({
            "ok": bool(t["answered"]), "state": L.get("state_" + state, state), "sent": f.date(t["sent_at"]),
            "delay": f.hours(t["delay_h"]), "business_delay": f.hours(t["business_delay_h"]),
            "quality": f.num(t["quality"]), "deflected": bool(t["deflected"])})
    scenarios = sorted({k[1] for k in cells})
    channels = sorted({k[0] for k in cells})
    return {"scenarios": [scen_titles.get(sc, sc) for sc in scenarios],
            "rows": [{"channel": ch_label(c), "cells": [cells.get((c, sc), []) for sc in scenarios]}
                     for c in channels]}


def _pooled(analysis) -> dict:
    from ..analytics import _group_figures

    sent = analysis.tests[analysis.tests["sent"]]
    return _group_figures(sent, analysis.window_h, analysis.rules.delay_weight, analysis.rules.quality_weight)
