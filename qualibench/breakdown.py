"""Breakdowns of a campaign's tests: sub-scores as shares of their maximum, cross-channel answers.

Split from qualibench.analytics, which calls them; every figure stays defined once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def criterion_maxima(config: dict, criteria: list[str], answered: pd.DataFrame) -> dict[str, float]:
    """Return each criterion's maximum points: its weight in the campaign's rubric.

    A criterion the rubric does not know (a rubric changed since scoring) falls back to the
    highest points observed, so a share never exceeds 100 %.
    """
    from .errors import QualibenchError

    name = ((config or {}).get("scoring") or {}).get("rubric", "default")
    try:
        from .scorer.rubric import rubric_weights

        weights = rubric_weights(name)
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
    if bc.empty:
        return pd.DataFrame(columns=["brand_key", "quality_consistency", "substance_consistency"])
    q = bc.groupby("brand_key")["quality"].agg(["max", "min", "count"])
    out = pd.DataFrame({"brand_key": q.index,
                        "quality_consistency": np.where(q["count"] >= 2, 100 - (q["max"] - q["min"]), math.nan)})
    out["substance_consistency"] = math.nan
    if "crit_relevance" in sent.columns:
        rel = (sent.loc[sent["answered"], ["brand_key", "channel", "crit_relevance"]]
               .groupby(["brand_key", "channel"])["crit_relevance"].mean().dropna())
        r = rel.groupby(level=0).agg(["max", "min", "count"])
        r = r[r["count"] >= 2]
        # relevance is out of its criterion weight; express the spread as % of the best
        top = np.maximum(r["max"], 1e-9)
        out["substance_consistency"] = out["brand_key"].map(100 * (1 - (r["max"] - r["min"]) / top))
    return out.reset_index(drop=True)


def _cross_channel(sent: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Return per scenario the share of brands answering that same request on every channel tested.

    A brand counts for a scenario when it was tested on at least two channels with it; it
    answers on every channel when each of those channels has an answered test of it. Grouped
    on integer codes (rows with a missing key count nowhere, as in a pandas groupby).
    """
    if sent.empty:
        return pd.DataFrame(columns=["scenario", "brands", "all_channels", "share"]), math.nan
    (sc, scenarios), (br, _), (ch, channels) = (pd.factorize(sent[k], sort=True)
                                                for k in ("scenario", "brand_key", "channel"))
    kept = (sc >= 0) & (br >= 0) & (ch >= 0)
    nb, nc = int(br.max()) + 1, len(channels)
    cell = (sc[kept].astype(np.int64) * nb + br[kept]) * nc + ch[kept]  # (scenario, brand, channel)
    cells, at = np.unique(cell, return_inverse=True)
    answered = np.bincount(at, weights=sent["answered"].to_numpy(dtype=bool)[kept], minlength=len(cells)) > 0
    pairs, at = np.unique(cells // nc, return_inverse=True)  # (scenario, brand)
    channels_tested = np.bincount(at, minlength=len(pairs))
    every = np.bincount(at, weights=~answered, minlength=len(pairs)) == 0
    several = channels_tested >= 2
    scen, at = np.unique(pairs[several] // nb, return_inverse=True)
    out = pd.DataFrame({"scenario": scenarios.take(scen),
                        "brands": np.bincount(at, minlength=len(scen)).astype(np.int64),
                        "all_channels": np.bincount(at, weights=every[several], minlength=len(scen)).astype(np.int64)})
    out["share"] = out["all_channels"] / out["brands"]
    n = int(several.sum())
    share = int(every[several].sum()) / n if n else math.nan
    return out, share
