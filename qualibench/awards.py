"""Trophies: per channel, social media, cross-channel, per sector and a grand prix, with reasons.

One rule, read by the terminal, JSON, HTML, PDF and exports alike:
- Eligibility: a brand is a nominee in a category when it has at least rules.min_answered
  answered tests there and an index of at least rules.min_index; a title needs at least
  rules.min_candidates nominees, a sector title at least rules.min_brands_per_sector brands.
- Winner (rule "published", the default and Qualiweb's practice): the highest index at the
  published precision (rules.precision decimals). Ex aequo only when those published indices
  are equal; the tie-break (rules.tie_break) then orders the co-winners in the listing.
- Rule "significant" (stricter, chosen in campaign.toml): every nominee whose paired bootstrap
  gap to the leader has an interval (at rules.confidence) containing 0 shares the title.
- Uncertainty is reported, not turned into shared titles: for each winner the bootstrap
  probability that it truly ranks first among the nominees, and the interval of its lead over
  the runner-up (the best nominee that is not a winner). A caution is raised when that
  probability is below rules.caution_probability, or when the winner has fewer than
  rules.min_tests_per_brand tests in the category.
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
CATEGORIES = ("grand_prix", "channel", "social", "cross_channel", "sector")


@dataclass
class Nominee:
    brand_key: str
    brand: str
    index: float
    low: float
    high: float
    tests: int
    answered: int = 0
    p_first: float = math.nan  # bootstrap share of replicates where this brand ranks first


@dataclass
class Trophy:
    """One title: who wins, and why (published index, lead and its interval, P(first), tests)."""

    category: str  # one of CATEGORIES
    scope: str  # the channel or sector, "" for social, cross-channel and grand prix
    winners: list[Nominee] = field(default_factory=list)
    runner_up: Nominee | None = None
    margin: float = math.nan  # published index of the winner(s) - published index of the runner-up
    margin_low: float = math.nan  # bootstrap interval of the lead (leader - runner-up)
    margin_high: float = math.nan
    p_first: float = math.nan  # bootstrap probability that the (first-listed) winner ranks first
    ex_aequo: bool = False
    nominees: list[Nominee] = field(default_factory=list)
    awarded: bool = True
    reason_code: str = ""  # "few_candidates", "few_brands" (not awarded), "tie" (ex aequo)
    reason: str = ""  # the same in English words, for the terminal and JSON
    cautions: list[str] = field(default_factory=list)  # "uncertain", "few_tests"
    rule: str = "published"
    precision: int = 1

    def as_dict(self) -> dict:
        """Return the trophy as plain JSON-friendly data."""
        return asdict(self)


def published(value: float, rules: AwardRules) -> float:
    """Return `value` at the published precision (the number a reader compares)."""
    return round(float(value), rules.precision) if value == value else math.nan


def rank_table(df: pd.DataFrame, rules: AwardRules) -> pd.DataFrame:
    """Return `df` sorted by published index, then by the tie-break order, then brand key."""
    cols, asc = ["_idx"], [False]
    for key in rules.tie_break:
        if key in TIE_BREAKS and TIE_BREAKS[key][0] in df.columns:
            cols.append(TIE_BREAKS[key][0])
            asc.append(not TIE_BREAKS[key][1])
    # numpy's stable lexsort of the keys (the last one first), each ascending with NaN last: a
    # key where higher is better sorts negated (NaN stays NaN, so last too); the brand key last
    keys = [df["brand_key"].to_numpy(dtype=str)]
    for c, up in zip(reversed(cols), reversed(asc), strict=True):
        values = (df["index"].round(rules.precision) if c == "_idx" else df[c]).to_numpy(dtype=float)
        keys.append(values if up else -values)
    return df.iloc[np.lexsort(keys)]


def published_ranks(ranked: pd.DataFrame, rules: AwardRules) -> list[int]:
    """Return the listing ranks of a rank_table: equal published indices share a rank."""
    return listing_ranks(ranked["index"].round(rules.precision))


def listing_ranks(published_indices) -> list[int]:
    """Return the listing ranks of published indices in ranking order (equal ones share a rank)."""
    ranks, last, last_rank = [], None, 0
    for i, v in enumerate(published_indices, start=1):
        if v != last:
            last, last_rank = v, i
        ranks.append(last_rank)
    return ranks


def eligible(table: pd.DataFrame, rules: AwardRules) -> pd.Series:
    """Return a boolean mask of the rows of `table` that are nominees under `rules`."""
    answered = table["answered"] if "answered" in table else pd.Series(rules.min_answered, index=table.index)
    return (table["index"].notna() & (table["index"] >= rules.min_index)
            & (answered >= max(rules.min_answered, 1)) & (table["tests"] > 0))


def _nominees(pool: pd.DataFrame) -> list[Nominee]:
    """Return the nominees of a ranked pool, in its order (a column read at once, not a row)."""
    def column(name: str, default=None) -> list:
        return column_values(pool[name]) if name in pool.columns or default is None else [default] * len(pool)
    return [Nominee(brand_key=k, brand=b, index=float(i), low=float(lo), high=float(hi), tests=int(t),
                    answered=int(a or 0))
            for k, b, i, lo, hi, t, a in zip(column("brand_key"), column("brand"), column("index"),
                                              column("index_low", math.nan), column("index_high", math.nan),
                                              column("tests"), column("answered", 0), strict=True)]


NOMINEE_COLUMNS = ("brand_key", "brand", "index", "index_low", "index_high", "tests", "answered")


def column_values(column) -> list:
    """Return a column's (or an index's) values as Python objects, as to_dict("records") gives them (at once)."""
    return column.tolist() if column.dtype.kind in "fiub" else column.to_numpy(dtype=object).tolist()


def table_rows(df: pd.DataFrame) -> list[dict]:
    """Return df's rows as dicts of Python values, as to_dict("records") (a column converted at once)."""
    cols = {c: column_values(df[c]) for c in df.columns}
    return [dict(zip(cols, values, strict=True)) for values in zip(*cols.values(), strict=True)]


def _award(category: str, scope: str, table: pd.DataFrame, sample_key, samples: dict,
           rules: AwardRules) -> Trophy:
    # only the columns a nominee holds or is ranked by: the brands table is four times wider
    keep = [c for c in dict.fromkeys([*NOMINEE_COLUMNS, *(TIE_BREAKS[k][0] for k in rules.tie_break
                                                          if k in TIE_BREAKS)]) if c in table.columns]
    pool = rank_table(table.loc[eligible(table, rules), keep], rules)
    nominees = _nominees(pool)
    trophy = Trophy(category=category, scope=scope, nominees=nominees, rule=rules.rule,
                    precision=rules.precision)
    if len(nominees) < rules.min_candidates:
        trophy.awarded = False
        trophy.reason_code = "few_candidates"
        trophy.reason = (f"{len(nominees)} eligible brand(s), fewer than the {rules.min_candidates} required "
                         f"(eligible: at least {max(rules.min_answered, 1)} answered test(s) and an index "
                         f"of at least {rules.min_index:g})")
        return trophy
    smp = [samples.get(sample_key(n.brand_key)) for n in nominees]
    have = all(s is not None for s in smp) and len(smp) > 0
    if have:
        matrix = np.vstack(smp)  # nominees x replicates
        # the share of replicates in which each nominee ranks first (a count over B: exact)
        firsts = np.bincount(matrix.argmax(axis=0), minlength=len(nominees))
        for n, count in zip(nominees, firsts.tolist(), strict=True):
            n.p_first = count / matrix.shape[1]
    alpha = (1 - rules.confidence) / 2
    leader = nominees[0]
    top = published(leader.index, rules)
    winners = [leader]
    for i, other in enumerate(nominees[1:], start=1):
        if published(other.index, rules) == top:
            winners.append(other)
        elif rules.rule == "significant" and have:
            d = smp[0] - smp[i]
            if np.quantile(d, alpha) <= 0 <= np.quantile(d, 1 - alpha):
                winners.append(other)
            else:
                break  # sorted: once a gap is significant, lower nominees are beyond it too
        else:
            break
    trophy.winners = winners
    trophy.ex_aequo = len(winners) > 1
    trophy.p_first = leader.p_first
    if len(winners) < len(nominees):
        runner = nominees[len(winners)]
        trophy.runner_up = runner
        trophy.margin = top - published(runner.index, rules)
        if have:
            d = smp[0] - smp[len(winners)]
            trophy.margin_low, trophy.margin_high = (float(np.quantile(d, alpha)), float(np.quantile(d, 1 - alpha)))
    if trophy.ex_aequo:
        trophy.reason_code = "tie"
        trophy.reason = (f"{len(winners)} brands with the same published index {top:.{rules.precision}f}: ex aequo, "
                         f"listed by tie-break {' > '.join(rules.tie_break)}" if rules.rule == "published" else
                         f"{len(winners)} brands the bootstrap cannot separate at {rules.confidence:.0%}: ex aequo")
    if have and leader.p_first < rules.caution_probability:
        trophy.cautions.append("uncertain")
    if any(w.tests < rules.min_tests_per_brand for w in winners):
        trophy.cautions.append("few_tests")
    return trophy


def scope_table(analysis, channels: list[str]) -> tuple[pd.DataFrame, dict]:
    """Return per brand the index over `channels` (channel weights renormalised) and its samples."""
    from .analytics import attach_ci, brand_indices

    bc = analysis.brand_channel
    part = bc[bc["channel"].isin(channels)]
    col = {c: part[c].to_numpy() for c in ("brand", "sector", "tests", "answered", "quality", "median_h",
                                           "delay_score", "channel")}
    rows, samples = [], {}
    for bk, pos, total_weight, index, smp in brand_indices(part, analysis.rules, analysis.samples):
        if not total_weight:
            continue
        tests, answered = col["tests"][pos], col["answered"][pos]
        rows.append({"brand_key": bk, "brand": col["brand"][pos[0]], "sector": col["sector"][pos[0]],
                     "index": index, "tests": int(tests.sum()), "answered": int(answered.sum()),
                     "quality": _mean(col["quality"][pos]), "answer_rate": answered.sum() / tests.sum(),
                     "median_h": _min(col["median_h"][pos]), "delay_score": _mean(col["delay_score"][pos]),
                     "channels": ", ".join(col["channel"][pos])})
        if smp is not None:
            samples[bk] = smp
    table = pd.DataFrame(rows, columns=["brand_key", "brand", "sector", "index", "tests", "answered",
                                        "quality", "answer_rate", "median_h", "delay_score", "channels"])
    attach_ci(table, samples, analysis.rules, list(table["brand_key"]))
    return table, samples


def _mean(a: np.ndarray) -> float:
    # pandas' Series.mean without a Series per brand: NaN skipped, NaN when nothing is left
    a = np.asarray(a, dtype=float)
    kept = ~np.isnan(a)
    return float(np.where(kept, a, 0.0).sum() / kept.sum()) if kept.any() else math.nan


def _min(a: np.ndarray) -> float:
    a = np.asarray(a, dtype=float)
    return float(np.nanmin(a)) if (~np.isnan(a)).any() else math.nan


def compute_trophies(analysis, rules: AwardRules | None = None) -> list[Trophy]:
    """Return the trophies of an Analysis: grand prix, per channel, social, cross-channel, per sector."""
    rules = rules or analysis.rules
    samples = analysis.samples
    overall = lambda k: (k, "*")  # noqa: E731
    brands = analysis.brands
    out: list[Trophy] = [_award("grand_prix", "", brands, overall, samples, rules)]
    bc = analysis.brand_channel
    channels = sorted(bc["channel"].unique()) if len(bc) else []
    for ch in channels:
        out.append(_award("channel", ch, bc[bc["channel"] == ch], lambda k, c=ch: (k, c), samples, rules))
    social = [c for c in channels if c in rules.social_channels]
    if social:
        table, smp = scope_table(analysis, social)
        out.append(_award("social", "", table, lambda k: k, smp, rules))
    if "answered_every_channel" in brands:
        cross = brands[brands["answered_every_channel"].fillna(False).astype(bool)]
        out.append(_award("cross_channel", "", cross, overall, samples, rules))
    for sector, g in brands.groupby("sector"):
        n = g["brand_key"].nunique()
        if n < rules.min_brands_per_sector:
            out.append(Trophy(category="sector", scope=str(sector), awarded=False, reason_code="few_brands",
                              rule=rules.rule, precision=rules.precision,
                              reason=f"{n} brand(s) in the sector, fewer than the "
                                     f"{rules.min_brands_per_sector} required"))
            continue
        out.append(_award("sector", str(sector), g, overall, samples, rules))
    return out


def rules_text(rules: AwardRules) -> dict:
    """Return the award rules as printed in the methodology (plain values)."""
    return {"delay_weight": rules.delay_weight, "quality_weight": rules.quality_weight,
            "channel_weights": dict(rules.channel_weights) or "equal",
            "min_tests_per_brand": rules.min_tests_per_brand, "min_answered": max(rules.min_answered, 1),
            "min_brands_per_sector": rules.min_brands_per_sector,
            "min_candidates": rules.min_candidates, "min_index": rules.min_index,
            "tie_break": list(rules.tie_break), "bootstrap_samples": rules.bootstrap_samples,
            "confidence": rules.confidence, "rule": rules.rule, "precision": rules.precision,
            "caution_probability": rules.caution_probability, "social_channels": list(rules.social_channels)}
