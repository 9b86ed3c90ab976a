"""Breakdowns of a campaign's tests: sub-scores as shares of their maximum, cross-channel answers.

Split from qualibench.analytics, which calls them; every figure stays defined once.
"""

from __future__ import annotations

import math

import pandas as pd


def criterion_maxima(config: dict, criteria: list[str], answered: pd.DataFrame) -> dict[str, float]:
    """Return each criterion's maximum points: its weight in the campaign's rubric.

    A criterion the rubric does not know (a rubric changed since scoring) falls back to the
    highest points observed, so a share never exceeds 100 %.
    """
    from .errors import QualibenchError

    name = ((config or {}).get("scoring") or {}).get("rubric", "default")
    try:
        from .scorer.rubric import load_rubric

        rubric = load_rubric(name)
        weights = {c: rubric.weight(c) for c in rubric.criteria}
    except (QualibenchError, OSError, ImportError, KeyError):
        weights = {}
    order = [c for c in weights if c in criteria] + [c for c in criteria if c not in weights]
    out = {}
    for c in order:
        seen = float(answered[f"crit_{c}"].max()) if len(answered) else 0.0
        w = weights.get(c, 0.0)
        out[c] = w if w and not seen > w + 1e-9 else (seen or 1.0)
    return out


def _criterion_shares(answered: pd.DataFrame, keys: list[str], maxima: dict[str, float]) -> pd.DataFrame:
    cols = [f"crit_{c}" for c in maxima]
    if not cols or answered.empty:
        return pd.DataFrame(columns=[*keys, *(f"share_{c}" for c in maxima)])
    g = answered.groupby(keys)[cols].mean()
    out = pd.DataFrame({f"share_{c}": g[f"crit_{c}"] / maxima[c] for c in maxima}, index=g.index)
    out["scored"] = answered.groupby(keys).size()
    return out.reset_index()


def _consistency(bc: pd.DataFrame, sent: pd.DataFrame) -> pd.DataFrame:
    """Return per brand: quality consistency and substance consistency (100 = same on every channel)."""
    rows = []
    has_rel = "crit_relevance" in sent.columns
    rel = sent[sent["answered"]].groupby(["brand_key", "channel"])["crit_relevance"].mean() if has_rel else None
    for bk, g in bc.groupby("brand_key"):
        q = g["quality"].dropna()
        row = {"brand_key": bk, "quality_consistency": 100 - (q.max() - q.min()) if len(q) >= 2 else math.nan,
               "substance_consistency": math.nan}
        if rel is not None and bk in rel.index.get_level_values(0):
            r = rel.loc[bk].dropna()
            if len(r) >= 2:
                # relevance is out of its criterion weight; express the spread as % of the best
                top = max(r.max(), 1e-9)
                row["substance_consistency"] = 100 * (1 - (r.max() - r.min()) / top)
        rows.append(row)
    return pd.DataFrame(rows, columns=["brand_key", "quality_consistency", "substance_consistency"])


def _cross_channel(sent: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Return per scenario the share of brands answering that same request on every channel tested."""
    if sent.empty:
        return pd.DataFrame(columns=["scenario", "brands", "all_channels", "share"]), math.nan
    per = sent.groupby(["scenario", "brand_key", "channel"])["answered"].any().reset_index()
    by_brand = per.groupby(["scenario", "brand_key"]).agg(channels=("channel", "nunique"), all_=("answered", "all"))
    by_brand = by_brand[by_brand["channels"] >= 2]
    out = by_brand.groupby("scenario").agg(brands=("all_", "size"), all_channels=("all_", "sum")).reset_index()
    out["share"] = out["all_channels"] / out["brands"]
    share = float(by_brand["all_"].mean()) if len(by_brand) else math.nan
    return out, share
