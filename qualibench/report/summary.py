"""The executive summary: findings written from the figures (nothing here is typed by hand)."""

from __future__ import annotations

from ..awards import Trophy
from .formatting import Formatter, missing


def executive_summary(analysis, trophies: list[Trophy], f: Formatter) -> list[str]:
    """Return the findings of the campaign as sentences of the report's language."""
    L, o = f.L, analysis.overall
    out = [L["sum_answers"].format(
        tests=o.get("tests", 0), brands=int(analysis.brands["brand_key"].nunique()),
        rate=f.pct(o.get("answer_rate")), days=analysis.campaign["window_days"],
        within24=f.pct(o.get("within_24h")))]
    out.append(L["sum_median"].format(median=f.median(o.get("median_h"))) if not missing(o.get("median_h"))
               else L["sum_median_not_reached"])
    ch = analysis.channels.dropna(subset=["answer_rate"]).sort_values("answer_rate", ascending=False)
    if len(ch) >= 2:
        best, worst = ch.iloc[0], ch.iloc[-1]
        out.append(L["sum_channels"].format(best=f.channel(best["channel"]), best_rate=f.pct(best["answer_rate"]),
                                            worst=f.channel(worst["channel"]), worst_rate=f.pct(worst["answer_rate"])))
    sec = analysis.sectors.dropna(subset=["index"]).sort_values("index", ascending=False)
    if len(sec) >= 2:
        out.append(L["sum_sectors"].format(best=f.sector(sec.iloc[0]["sector"]), best_index=f.num(sec.iloc[0]["index"]),
                                           worst=f.sector(sec.iloc[-1]["sector"]),
                                           worst_index=f.num(sec.iloc[-1]["index"])))
    if analysis.criterion_max and len(analysis.tests):
        tests = analysis.tests
        cols = [f"crit_{c}" for c in analysis.criterion_max if f"crit_{c}" in tests]
        answered = tests.loc[tests["sent"] & tests["answered"], cols]  # only the criteria's columns
        shares = {c: answered[f"crit_{c}"].mean() / m for c, m in analysis.criterion_max.items()
                  if f"crit_{c}" in answered and m}
        shares = {c: v for c, v in shares.items() if not missing(v)}
        if shares:
            hi, lo = max(shares, key=shares.get), min(shares, key=shares.get)
            out.append(L["sum_quality"].format(quality=f.num(o.get("quality"), 0), best=f.criterion(hi).lower(),
                                               best_share=f.pct(shares[hi]), worst=f.criterion(lo).lower(),
                                               worst_share=f.pct(shares[lo])))
    if not missing(analysis.cross_channel_share):
        out.append(L["sum_cross"].format(share=f.pct(analysis.cross_channel_share)))
    gp = next((t for t in trophies if t.category == "grand_prix"), None)
    if gp is not None and gp.awarded and gp.winners:
        names = " / ".join(w.brand for w in gp.winners)
        out.append(L["sum_grand_prix"].format(brand=names, index=f.num(gp.winners[0].index, gp.precision),
                                              p=f.pct(gp.p_first)))
    if analysis.comparison:
        b = analysis.comparison["brands"]
        both = b.dropna(subset=["index_previous"])
        if len(both):
            out.append(L["sum_change"].format(before=f.num(both["index_previous"].mean()), now=f.num(both["index"].mean()),
                                              delta=f.signed(both["index"].mean() - both["index_previous"].mean()),
                                              brands=len(both)))
    else:
        out.append(L["sum_first_edition"])
    return out
