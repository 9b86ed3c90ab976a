"""Trophies: per channel, cross-channel, per sector and a grand prix, each with its reasons.

Eligibility: at least rules.min_tests_per_brand tests in the category, at least one answer, an
index of at least rules.min_index, and at least rules.min_candidates nominees, else no title
(ESCDA-style).
Ex aequo: every nominee whose gap to the leader is not significant, i.e. the bootstrap
interval (at rules.confidence) of the paired difference leader - nominee contains 0.
Equal indices (to 0.01) are ordered by rules.tie_break; co-winners are listed in that order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .campaign.spec import AwardRules

# tie-break key -> (column, higher is better)
TIE_BREAKS = {
    "quality": ("quality", True), "answer_rate": ("answer_rate", True),
    "median_delay": ("median_h", False), "delay_score": ("delay_score", True),
    "tests": ("tests", True), "ack_rate": ("ack_rate", True),
}


@dataclass
class Nominee:
    brand_key: str
    brand: str
    index: float
    low: float
    high: float
    tests: int


@dataclass
class Trophy:
    """One title: who wins, and why (index, margin, interval, tests, nominees)."""

    category: str  # "channel", "cross_channel", "sector", "grand_prix"
    scope: str  # the channel or sector name, "" for cross-channel and grand prix
    winners: list[Nominee] = field(default_factory=list)
    runner_up: Nominee | None = None
    margin: float = math.nan  # leader index - runner-up index (runner-up: first non-winner)
    margin_low: float = math.nan  # bootstrap interval of that gap
    margin_high: float = math.nan
    ex_aequo: bool = False
    nominees: list[Nominee] = field(default_factory=list)
    awarded: bool = True
    reason: str = ""  # why not awarded, or how the tie was settled

    def as_dict(self) -> dict:
        """Return the trophy as plain JSON-friendly data."""
        return asdict(self)


def _nominee(r: pd.Series) -> Nominee:
    return Nominee(brand_key=r["brand_key"], brand=r["brand"], index=float(r["index"]),
                   low=float(r.get("index_low", math.nan)), high=float(r.get("index_high", math.nan)),
                   tests=int(r["tests"]))


def rank_table(df: pd.DataFrame, rules: AwardRules) -> pd.DataFrame:
    """Return `df` sorted by index (rounded to 0.01) then by the tie-break order."""
    cols, asc = ["_idx"], [False]
    for key in rules.tie_break:
        if key in TIE_BREAKS and TIE_BREAKS[key][0] in df.columns:
            cols.append(TIE_BREAKS[key][0])
            asc.append(not TIE_BREAKS[key][1])
    out = df.assign(_idx=df["index"].round(2)).sort_values(cols + ["brand_key"], ascending=asc + [True],
                                                           na_position="last")
    return out.drop(columns="_idx")


def _award(category: str, scope: str, table: pd.DataFrame, sample_key, analysis, rules: AwardRules) -> Trophy:
    # A brand that never answered in the category is no nominee, whatever min_index says.
    answered = table["answered"] > 0 if "answered" in table else True
    pool = table[(table["tests"] >= rules.min_tests_per_brand) & table["index"].notna()
                 & (table["index"] >= rules.min_index) & answered]
    pool = rank_table(pool, rules)
    nominees = [_nominee(r) for _, r in pool.iterrows()]
    trophy = Trophy(category=category, scope=scope, nominees=nominees)
    if len(nominees) < rules.min_candidates:
        trophy.awarded = False
        trophy.reason = (f"{len(nominees)} eligible brand(s), fewer than the {rules.min_candidates} required "
                         f"(min. {rules.min_tests_per_brand} tests, index >= {rules.min_index:g})")
        return trophy
    leader = nominees[0]
    alpha = (1 - rules.confidence) / 2
    lead_s = analysis.samples.get(sample_key(leader.brand_key))
    winners = [leader]
    for other in nominees[1:]:
        other_s = analysis.samples.get(sample_key(other.brand_key))
        if lead_s is None or other_s is None:
            tied = round(other.index, 2) == round(leader.index, 2)
        else:
            diff = lead_s - other_s
            tied = bool(np.quantile(diff, alpha) <= 0 <= np.quantile(diff, 1 - alpha))
        if not tied:
            break  # nominees are sorted: once a gap is significant, lower ones are beyond it too
        winners.append(other)
    trophy.winners = winners
    trophy.ex_aequo = len(winners) > 1
    trophy.runner_up = nominees[len(winners)] if len(winners) < len(nominees) else None
    # The margin is over the runner-up, the first nominee the bootstrap separates from the
    # leader (for a tie, the co-winners' gaps are the non-significant ones by definition).
    second = trophy.runner_up or nominees[1]
    trophy.margin = leader.index - second.index
    s2 = analysis.samples.get(sample_key(second.brand_key))
    if lead_s is not None and s2 is not None:
        d = lead_s - s2
        trophy.margin_low, trophy.margin_high = float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha))
    if trophy.ex_aequo:
        trophy.reason = (f"gap to the leader not significant at {rules.confidence:.0%} for "
                         f"{len(winners) - 1} brand(s): ex aequo, listed by index then tie-break "
                         f"{' > '.join(rules.tie_break)}")
    return trophy


def compute_trophies(analysis, rules: AwardRules | None = None) -> list[Trophy]:
    """Return the trophies of an Analysis: per channel, cross-channel, per sector, grand prix."""
    rules = rules or analysis.rules
    out: list[Trophy] = []
    bc = analysis.brand_channel
    for ch in sorted(bc["channel"].unique()) if len(bc) else []:
        out.append(_award("channel", ch, bc[bc["channel"] == ch], lambda k, c=ch: (k, c), analysis, rules))
    brands = analysis.brands
    overall = lambda k: (k, "*")  # noqa: E731
    cross = brands[brands["answered_every_channel"].fillna(False).astype(bool)]
    out.append(_award("cross_channel", "", cross, overall, analysis, rules))
    for sector, g in brands.groupby("sector"):
        if g["brand_key"].nunique() < rules.min_brands_per_sector:
            out.append(Trophy(category="sector", scope=str(sector), awarded=False,
                              reason=f"{g['brand_key'].nunique()} brand(s) in the sector, fewer than "
                                     f"the {rules.min_brands_per_sector} required"))
            continue
        out.append(_award("sector", str(sector), g, overall, analysis, rules))
    out.append(_award("grand_prix", "", brands, overall, analysis, rules))
    return out


def rules_text(rules: AwardRules) -> dict:
    """Return the award rules as printed in the methodology (plain values)."""
    return {"delay_weight": rules.delay_weight, "quality_weight": rules.quality_weight,
            "channel_weights": dict(rules.channel_weights) or "equal",
            "min_tests_per_brand": rules.min_tests_per_brand,
            "min_brands_per_sector": rules.min_brands_per_sector,
            "min_candidates": rules.min_candidates, "min_index": rules.min_index,
            "tie_break": list(rules.tie_break), "bootstrap_samples": rules.bootstrap_samples,
            "confidence": rules.confidence}
