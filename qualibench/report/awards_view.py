"""The trophies as the report shows them: one card per title and a one-page palmarès.

The figures are those of qualibench.awards.compute_trophies (the terminal, JSON and exports
print the same): published index, lead over the runner-up and its bootstrap interval, the
probability of truly ranking first, the cautions, and the eligibility rule that was applied.
"""

from __future__ import annotations

from ..awards import Trophy
from .formatting import Formatter


def trophy_title(t: Trophy, f: Formatter) -> str:
    """Return the localised name of a title ("Trophée du secteur Banque")."""
    L = f.L
    if t.category == "channel":
        return L["trophy_channel"].format(scope=f.channel(t.scope))
    if t.category == "sector":
        return L["trophy_sector"].format(scope=f.sector(t.scope))
    return L[f"trophy_{t.category}"]


def eligibility_text(t: Trophy, rules, f: Formatter) -> str:
    """Return the eligibility rule applied to this title, in words."""
    L = f.L
    text = L["eligibility"].format(answered=max(rules.min_answered, 1), index=f.num(rules.min_index, 0),
                                   candidates=rules.min_candidates)
    if t.category == "sector":
        text += " " + L["eligibility_sector"].format(brands=rules.min_brands_per_sector)
    if t.category == "cross_channel":
        text += " " + L["eligibility_cross"]
    if t.category == "social":
        text += " " + L["eligibility_social"].format(
            channels=", ".join(f.channel(c) for c in rules.social_channels))
    return text


def trophy_view(t: Trophy, rules, f: Formatter) -> dict:
    """Return what one trophy card shows."""
    L, p = f.L, rules.precision
    view = {"title": trophy_title(t, f), "category": t.category, "awarded": t.awarded, "ex_aequo": t.ex_aequo,
            "nominees": len(t.nominees), "eligibility": eligibility_text(t, rules, f), "cautions": [],
            "winners": [{"brand": w.brand, "index": f.num(w.index, p), "tests": w.tests, "answered": w.answered,
                         "p_first": f.pct(w.p_first)} for w in t.winners],
            "runner_up": None, "lead": None, "p_first": f.pct(t.p_first)}
    if not t.awarded:
        view["why"] = L["not_awarded"] + " " + (
            L["why_few_brands"].format(brands=rules.min_brands_per_sector) if t.reason_code == "few_brands"
            else L["why_few_candidates"].format(n=len(t.nominees), candidates=rules.min_candidates))
        return view
    if t.runner_up is not None:
        view["runner_up"] = {"brand": t.runner_up.brand, "index": f.num(t.runner_up.index, p)}
        lead = L["lead"].format(points=f.num(t.margin, p), runner=t.runner_up.brand)
        if t.margin_low == t.margin_low:
            lead += " " + L["lead_interval"].format(confidence=f.pct(rules.confidence),
                                                   low=f.signed(t.margin_low, p), high=f.signed(t.margin_high, p))
        view["lead"] = lead
    if t.ex_aequo:
        view["why"] = (L["why_tie_published"].format(index=f.num(t.winners[0].index, p))
                       if t.rule == "published" else L["why_tie_significant"].format(confidence=f.pct(rules.confidence)))
    else:
        view["why"] = L["why_published"] if t.rule == "published" else L["why_significant"]
    for c in t.cautions:
        view["cautions"].append(L[f"caution_{c}"].format(
            p=f.pct(t.p_first), threshold=f.pct(rules.caution_probability), tests=rules.min_tests_per_brand))
    return view


def palmares(views: list[dict]) -> list[dict]:
    """Return one row per title for the palmarès page: title, winner(s), index, P(first), caution."""
    rows = []
    for v in views:
        rows.append({"title": v["title"], "awarded": v["awarded"],
                     "winners": " · ".join(w["brand"] for w in v["winners"]),
                     "index": v["winners"][0]["index"] if v["winners"] else "",
                     "p_first": v["p_first"] if v["awarded"] else "", "ex_aequo": v["ex_aequo"],
                     "caution": bool(v["cautions"]), "why": "" if v["awarded"] else v["why"]})
    return rows
