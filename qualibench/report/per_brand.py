"""One PDF per brand: the fiche a consultancy hands each participant.

Its position against its sector and all brands, the titles it won, then every test: the
request as sent, when it was sent and answered, the reply, the score of each criterion with
the evidence behind it, and the auditors' corrections. The campaign is analysed once; the
parent renders every brand's HTML and worker processes turn them into PDFs.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from ..models import Probe, Score
from ..scorer.effective import ADJUDICATOR_PREFIX, AUDITOR_PREFIX, AUTO
from ..scorer.wording import why_in
from .brand_sheets import brand_sheets, excerpt_tools
from .formatting import Formatter, missing

REQUEST_CHARS = 600
REPLY_CHARS = 900


def _scores_by_reply(session, cid: int, reply_ids: set[int]) -> dict[int, dict]:
    """Return reply_id -> {"auto": latest automatic Score, "audits": [auditor/adjudicator Scores]}."""
    out: dict[int, dict] = {}
    for s in session.exec(select(Score).where(Score.campaign_id == cid).order_by(Score.id)):
        if s.reply_id not in reply_ids:
            continue
        slot = out.setdefault(s.reply_id, {"auto": None, "audits": []})
        if s.scorer == AUTO:
            slot["auto"] = s
        elif s.scorer.startswith((AUDITOR_PREFIX, ADJUDICATOR_PREFIX)):
            slot["audits"].append(s)
    return out


def _test_views(session, analysis, brand_key: str, f: Formatter, excerpt, probes: dict, scores: dict,
                titles: dict, key_points: dict) -> list[dict]:
    L, maxima, lang = f.L, analysis.criterion_max, f.lang
    tests = analysis.tests
    rows = tests[tests["sent"] & (tests["brand_key"] == brand_key)].sort_values(["channel", "scenario", "sent_at"])
    out = []
    for t in rows.to_dict("records"):
        p = probes.get(t["probe_id"])
        request = (p.short_text if t["channel"] == "x" and p is not None and p.short_text else
                   (p.body if p is not None else "")) or ""
        state = "answered" if t["answered"] else ("undeliverable" if t["undeliverable"] else "unanswered")
        rid = t["first_answer_reply_id"]
        sc = scores.get(int(rid)) if not missing(rid) else None
        auto = sc["auto"] if sc else None
        criteria = []
        for c, m in maxima.items():
            pts = t.get(f"crit_{c}")
            ev = (auto.evidence or {}).get(c, []) if auto is not None else []
            criteria.append({"name": f.criterion(c), "points": f.num(pts), "max": f.num(m, 0),
                             "share": f.pct(pts / m) if not missing(pts) and m else "–",
                             "evidence": [{"text": excerpt(e.get("text", ""), rid, t["probe_id"], 160),
                                           "points": f.signed(e.get("points")),
                                           "why": why_in(e.get("why", ""), lang,
                                                         key_points.get(t["scenario"]))}
                                          for e in ev[:3]]})
        audits = [{"who": s.scorer.split(":", 1)[1] if ":" in s.scorer else s.scorer, "total": f.num(s.total),
                   "date": f.date(s.created_at), "why": s.justification,
                   "changes": ", ".join(f"{f.criterion(c)} {f.num((auto.criteria or {}).get(c))} → {f.num(v)}"
                                        for c, v in (s.criteria or {}).items()
                                        if auto is None or (auto.criteria or {}).get(c) != v)}
                  for s in (sc["audits"] if sc else [])]
        out.append({
            "channel": f.channel(t["channel"]), "scenario": titles.get(t["scenario"], t["scenario_title"]), "state": L.get("state_" + state, state),
            "ok": bool(t["answered"]), "subject": p.subject if p is not None else "",
            "request": excerpt(request, None, t["probe_id"], REQUEST_CHARS),
            "sent": f.date(t["sent_at"], "medium"), "ack": f.hours(t["ack_delay_h"]),
            "delay": f.hours(t["delay_h"]), "business_delay": f.hours(t["business_delay_h"]),
            "deflected": bool(t["deflected"]), "quality": f.num(t["quality"]),
            "source": L.get("source_" + str(t.get("score_source") or "").split(":")[0], ""),
            "reply": excerpt(t["answer_text"], rid, t["probe_id"], REPLY_CHARS) if t["answered"] else "",
            "criteria": criteria if t["answered"] else [], "audits": audits})
    return out


def brand_report_contexts(session, analysis, trophies, *, lang: str, labels: dict, pseudonymise: bool,
                          now: datetime | None = None, only: list[str] | None = None) -> list[dict]:
    """Return the template context of each brand's report (ranking order)."""
    from .awards_view import trophy_title
    from .context import build_cover

    f = Formatter(lang, labels)
    cid = analysis.campaign["id"]
    excerpt = excerpt_tools(session, cid, labels, pseudonymise)
    sheets = brand_sheets(session, analysis, f, excerpt)
    if only:
        sheets = [s for s in sheets if s["key"] in only]
    probes = {p.id: p for p in session.exec(select(Probe).where(Probe.campaign_id == cid))}
    keys = {s["key"] for s in sheets}
    tests = analysis.tests
    reply_ids = {int(r) for r in tests.loc[tests["brand_key"].isin(keys), "first_answer_reply_id"].dropna()}
    scores = _scores_by_reply(session, cid, reply_ids)
    won: dict[str, list[str]] = {}
    for t in trophies:
        for w in t.winners:
            won.setdefault(w.brand_key, []).append(trophy_title(t, f))
    cover = build_cover(analysis, f)
    generated = f.date((now or datetime.now(UTC)).date())
    titles, key_points = f.scenario_names(analysis), f.key_point_names(analysis)
    return [{"lang": lang, "L": labels, "cover": cover, "generated": generated, "b": s,
             "titles": won.get(s["key"], []),
             "tests": _test_views(session, analysis, s["key"], f, excerpt, probes, scores, titles, key_points)}
            for s in sheets]


def _chunks(jobs: list, n: int) -> list[list]:
    size = -(-len(jobs) // n)
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


def write_brand_reports(ws, analysis, trophies, *, lang: str, out: Path, env, labels: dict,
                        pseudonymise: bool = False, workers: int | None = None,
                        only: list[str] | None = None) -> list[Path]:
    """Write brand-<key>-<lang>.pdf for every brand into `out`/brands; return the paths.

    The fiches are rendered here, then printed by `workers` processes (default: one per core),
    each driving one Chromium through its share of the brands.
    """
    from .pdf import Printer, print_many, require_printer

    require_printer()  # here, before any worker starts: the error names what to install
    folder = Path(out) / "brands"
    folder.mkdir(parents=True, exist_ok=True)
    with ws.session() as s:
        contexts = brand_report_contexts(s, analysis, trophies, lang=lang, labels=labels,
                                         pseudonymise=pseudonymise, now=ws.clock.now(), only=only)
    template = env.get_template("brand_report.html.j2")
    jobs = [(template.render(**ctx), str(folder / f"brand-{ctx['b']['key']}-{lang}.pdf")) for ctx in contexts]
    if not jobs:
        return []
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        with Printer() as printer:
            return [printer.pdf(h, Path(p)) for h, p in jobs]
    # one task per worker: a browser starts once per process, not once per brand
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [Path(p) for chunk in pool.map(print_many, _chunks(jobs, workers)) for p in chunk]
