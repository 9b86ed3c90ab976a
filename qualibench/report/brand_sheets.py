"""Brand fact sheets: a brand against its sector and all brands, its tests, best and weakest reply.

Built from plain dicts grouped once: per-brand DataFrames would cost more than the rest of a
500-brand report.
"""

from __future__ import annotations

import secrets

from markupsafe import Markup
from sqlmodel import Session, select

from ..awards import published_ranks, rank_table, table_rows
from ..background import Forked, fork_is_safe
from ..models import Brand, Persona, Probe, Reply
from .formatting import Formatter, missing
from .pseudonym import pseudonymise, signature_names

EXCERPT_CHARS = 320
# the columns of the tests table a sheet reads (the whole table is three times wider)
SHEET_COLUMNS = ("brand_key", "channel", "scenario", "answered", "undeliverable", "quality", "sent_at", "delay_h",
                 "business_delay_h", "deflected", "answer_text", "first_answer_reply_id", "probe_id")


def excerpt_tools(session: Session, campaign_id: int, L: dict, pseudo: bool, limit: int = EXCERPT_CHARS):
    """Return excerpt(text, reply_id, probe_id) -> one paragraph, pseudonymised when asked."""
    # the customers' names are only needed to mask them
    personas = ({p.id: p for p in session.exec(select(Persona).where(Persona.campaign_id == campaign_id))}
                if pseudo else {})
    probes = ({p.id: (p.persona_id, p.fills) for p in session.exec(select(Probe).where(Probe.campaign_id == campaign_id))}
              if pseudo else {})
    sigs = ({r.id: r.signature for r in session.exec(select(Reply).where(Reply.campaign_id == campaign_id))}
            if pseudo else {})
    labels = {"email": L["pseudo_email"], "phone": L["pseudo_phone"], "order": L["pseudo_order"],
              "agent": L["pseudo_agent"], "customer": L["pseudo_customer"]}

    def excerpt(text: str, reply_id, probe_id, chars: int = limit) -> str:
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
        return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " …"
    return excerpt


def _shares(row: dict | None, maxima: dict) -> dict[str, float]:
    if not row:
        return {}
    return {c: row.get(f"share_{c}") for c in maxima}


def _test_shares(t: dict, maxima: dict) -> dict[str, float]:
    return {c: t.get(f"crit_{c}") / m for c, m in maxima.items() if not missing(t.get(f"crit_{c}")) and m}


def why(shares: dict[str, float], f: Formatter, strongest: bool) -> str:
    """Return the two criteria that made a reply strong (or weak), as shares of their maximum."""
    items = sorted(shares.items(), key=lambda kv: kv[1], reverse=strongest)[:2]
    label = f.L["strong_points"] if strongest else f.L["weak_points"]
    return label + " " + ", ".join(f"{f.criterion(c)} {f.pct(v)}" for c, v in items) if items else ""


def _comparison_row(label: str, r: dict, index: float, share: dict, maxima: dict, f: Formatter) -> dict:
    return {"label": label, "index": f.num(index), "answer_rate": f.pct(r.get("answer_rate")),
            "median": f.median(r.get("median_h")), "delay_score": f.num(r.get("delay_score")),
            "quality_all": f.num(r.get("quality_all")), "quality": f.num(r.get("quality")),
            "criteria": [f.pct(share.get(c)) for c in maxima]}


def brand_hours(session: Session, campaign_id: int) -> dict[str, str]:
    """Return brand key -> its opening hours as stored (what a sheet shows)."""
    return {key: hours for key, hours in session.execute(
        select(Brand.key, Brand.opening_hours).where(Brand.campaign_id == campaign_id))}


def _memo(fn):
    # a formatting call for each distinct value: a sheet repeats its sector's, its hours' and
    # its dates' text (the value itself is the key, so the text is the one fn gives)
    seen: dict = {}

    def text(v):
        got = seen.get(v)
        if got is None:
            got = seen[v] = fn(v)
        return got
    return text


def brand_sheets(session: Session | None, analysis, f: Formatter, excerpt, *, only: str | None = None,
                 hours: dict[str, str] | None = None) -> list[dict]:
    """Return the view of every brand's fact sheet (or of brand key `only`), in ranking order.

    `hours`: brand_hours() read beforehand (then `session` is not used).
    """
    rules, maxima = analysis.rules, analysis.criterion_max
    cid = analysis.campaign["id"]
    tests = analysis.tests
    cols = [c for c in SHEET_COLUMNS if c in tests.columns] + [c for c in tests.columns if c.startswith("crit_")]
    sent = tests.loc[tests["sent"], cols]
    if only is not None:
        sent = sent[sent["brand_key"] == only]
    if sent["sent_at"].dtype.kind == "M":  # a sheet shows the (UTC) date: converted at once, formatted per day
        sent = sent.assign(sent_at=sent["sent_at"].dt.date)
    by_brand: dict[str, list[dict]] = {}
    for t in table_rows(sent):
        by_brand.setdefault(t["brand_key"], []).append(t)
    hours = brand_hours(session, cid) if hours is None else hours
    scen_titles = f.scenario_names(analysis)
    bc_by_brand: dict[str, list[dict]] = {}
    for r in table_rows(analysis.brand_channel[["brand_key", "channel", "index", "answer_rate", "median_h"]]):
        bc_by_brand.setdefault(r["brand_key"], []).append(r)
    sectors = {r["sector"]: r for r in analysis.sectors.to_dict("records")}
    bcrit = {r["brand_key"]: r for r in analysis.brand_criteria.to_dict("records")}
    scrit = {r["sector"]: r for r in analysis.sector_criteria.to_dict("records")}
    ranked = rank_table(analysis.brands, rules)
    ranks = dict(zip(ranked["brand_key"], published_ranks(ranked, rules), strict=True))
    sector_ranks: dict[str, int] = {}
    for _, g in ranked.groupby("sector"):
        sector_ranks |= dict(zip(g["brand_key"], published_ranks(g, rules), strict=True))
    sector_sizes = ranked.groupby("sector")["brand_key"].nunique().to_dict()
    all_index = float(analysis.brands["index"].mean())
    answered = tests[tests["sent"] & tests["answered"]]
    all_shares = {c: answered[f"crit_{c}"].mean() / m for c, m in maxima.items()
                  if f"crit_{c}" in answered and m and len(answered)}
    criteria_names = [f.criterion(c) for c in maxima]
    # the sector's and all brands' rows of the comparison are the same on every sheet of a sector
    overall_row = _comparison_row(f.L["all_brands"], analysis.overall, all_index, all_shares, maxima, f)
    sector_rows: dict = {}
    sector_name, opening = _memo(f.sector), _memo(f.opening_hours)
    cell = _CellText(f)
    out = []
    for b in table_rows(ranked):
        if only is not None and b["brand_key"] != only:
            continue
        bt = by_brand.get(b["brand_key"], [])
        sec = sectors.get(b["sector"], {})
        scored = sorted((t for t in bt if t["answered"] and not missing(t["quality"])), key=lambda t: t["quality"])
        best = scored[-1] if scored else None
        worst = scored[0] if len(scored) > 1 else None
        if b["sector"] not in sector_rows:
            sector_rows[b["sector"]] = _comparison_row(f.L["sector_average"], sec, sec.get("index"),
                                                       _shares(scrit.get(b["sector"]), maxima), maxima, f)

        def reply(t: dict | None, strongest: bool) -> dict | None:
            if t is None:
                return None
            return {"quality": f.num(t["quality"]), "channel": f.channel(t["channel"]),
                    "scenario": scen_titles.get(t["scenario"], ""), "why": why(_test_shares(t, maxima), f, strongest),
                    "text": excerpt(t["answer_text"], t["first_answer_reply_id"], t["probe_id"])}
        out.append({
            "name": b["brand"], "sector": sector_name(b["sector"]), "key": b["brand_key"],
            "rank": f.ordinal(ranks[b["brand_key"]]), "of": len(ranked),
            "sector_rank": f.ordinal(sector_ranks.get(b["brand_key"], 0)), "sector_of": sector_sizes.get(b["sector"]),
            "hours": opening(hours.get(b["brand_key"], "")),
            "index": f.num(b["index"], rules.precision),
            "ci": f"{f.num(b['index_low'])} – {f.num(b['index_high'])}",
            "compare": [_comparison_row(b["brand"], b, b["index"], _shares(bcrit.get(b["brand_key"]), maxima), maxima, f),
                        sector_rows[b["sector"]], overall_row],
            "criteria_names": criteria_names,
            "channels": [{"channel": f.channel(r["channel"]), "index": f.num(r["index"]),
                          "answer_rate": f.pct(r["answer_rate"]), "median": f.median(r["median_h"])}
                         for r in bc_by_brand.get(b["brand_key"], [])],
            "consistency": f.num(b.get("substance_consistency")),
            "grid": _test_grid(bt, scen_titles, f, cell),
            "best": reply(best, True), "worst": reply(worst, False),
        })
    return out


class _CellText:
    """The text of a grid cell's figures, formatted once per distinct value."""

    def __init__(self, f: Formatter) -> None:
        self.hours, self.num = f.hours, f.num
        self.date = _memo(lambda d: f.date(d, "short"))
        self.states = {s: f.L.get("state_" + s, s) for s in ("answered", "undeliverable", "unanswered")}


def _test_grid(bt: list[dict], scen_titles: dict, f: Formatter, text: _CellText | None = None) -> dict:
    """Return a brand's tests as a channel x scenario grid; each cell lists its tests' outcomes.

    A grid has a few cells where a row per test has many, which keeps 500-brand PDFs fast.
    """
    text = text or _CellText(f)
    states, date, hours, num = text.states, text.date, text.hours, text.num
    cells: dict[tuple[str, str], list[dict]] = {}
    for t in bt:
        state = "answered" if t["answered"] else ("undeliverable" if t["undeliverable"] else "unanswered")
        cells.setdefault((t["channel"], t["scenario"]), []).append({
            "ok": bool(t["answered"]), "state": states[state], "sent": date(t["sent_at"]),
            "delay": hours(t["delay_h"]), "business_delay": hours(t["business_delay_h"]),
            "quality": num(t["quality"]), "deflected": bool(t["deflected"])})
    scenarios = sorted({k[1] for k in cells})
    channels = sorted({k[0] for k in cells})
    return {"scenarios": [scen_titles.get(sc, "") for sc in scenarios],
            "rows": [{"channel": f.channel(c), "cells": [cells.get((c, sc), []) for sc in scenarios]}
                     for c in channels]}


# the loop of _brands.html.j2, rendered on its own: the same text as in place
_SHEETS_LOOP = '{% for b in brands %}{% include "_brand_sheet.html.j2" %}{% endfor %}'


class SheetsInBackground:
    """Render the brand sheets (half of a 500-brand report) in a forked process meanwhile.

    Only with the package's templates (a user's _brands.html.j2 may read anything) and for a
    report whose charts are drawn in a process too (a large one, forking safe); else `placeholder`
    is None and the template renders the sheets itself. What the sheets read from the database
    is read here before the fork: the child never touches a connection.
    """

    def __init__(self, session: Session, analysis, f: Formatter, excerpt, env, *, fork: bool) -> None:
        self.placeholder = None
        self._job = None
        if not fork or not fork_is_safe():
            return
        hours = brand_hours(session, analysis.campaign["id"])
        self._mark = f"<!--brand sheets {secrets.token_hex(8)}-->"
        self._job = Forked(_render_sheets, env, analysis, f, excerpt, hours, fork=True)
        self.placeholder = Markup(self._mark)  # noqa: S704 - our own comment

    def fill(self, html: str) -> str:
        """Return `html` with the placeholder replaced by the rendered sheets."""
        if self._job is None:
            return html
        return html.replace(self._mark, self._job.result(), 1)


def _render_sheets(env, analysis, f: Formatter, excerpt, hours: dict) -> str:
    sheets = brand_sheets(None, analysis, f, excerpt, hours=hours)
    return env.from_string(_SHEETS_LOOP).render(brands=sheets, L=f.L)
