"""Campaign analytics with pandas: one row per test, rates, censored delays, indices, intervals.

Definitions (printed in the report's methodology):
- A *test* is a probe that was sent (it has sent_at), or whose published address refused it
  (undeliverable: its clock starts at the delivery attempt). Failed and planned probes are
  listed in `load_tests` with sent=False and counted nowhere else.
- The clock stops at the first human reply: kind "answer", or "redirect" (a human who deflects
  to another channel: it counts as answered, flagged `deflected`, and its scored quality is
  low by design). Automatic acknowledgements never stop it. Undeliverable tests count as
  sent and never answered (the brand's published contact point did not work).
- Delays are censored at the window end (or at the analysis time while a window is open) and
  estimated with Kaplan-Meier (qualibench.survival), in calendar and in business hours.
- The median delay (median_h) is the Kaplan-Meier median over every sent test: NaN means "not
  reached" (fewer than half answered within the window). answered_median_h is the median
  among answered tests only, and is always shown under that name.
- Quality of answers: mean effective score (auditors over automatic) of the first answers.
  The index uses the *delivered quality*: the same mean over every test, an unanswered test
  counting 0, so silence is never dropped from the average.
- Delay score = 100 x mean of KM F(t) at 1 h, 4 h, 24 h and the window (calendar time, what
  the customer waits): answering everything within an hour scores 100, never answering 0.
- Brand channel index = (delay_weight x delay score + quality_weight x delivered quality) / 100;
  a brand's overall index weights its channel indices by rules.channel_weights (equal if empty),
  renormalised over the channels it was tested on.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

import numpy as np
import pandas as pd
from sqlmodel import Session, select

from .background import Forked
from .breakdown import _consistency, _criterion_shares, _cross_channel, criterion_maxima
from .campaign.spec import AwardRules
from .models import Campaign, Scenario
from .probe_table import load_tests
from .resampling import cell_weights
from .survival import CHECKPOINTS_H, f_at_stack, km_stack, km_summary_stack

BUCKETS = ("within_1h", "within_4h", "within_24h", "within_window")


@dataclass
class Analysis:
    """Every figure of a campaign's report; tables are pandas DataFrames (exportable as is)."""

    campaign: dict
    rules: AwardRules
    tests: pd.DataFrame
    brand_channel: pd.DataFrame
    brands: pd.DataFrame
    sectors: pd.DataFrame
    scenarios: pd.DataFrame
    channels: pd.DataFrame
    criteria: pd.DataFrame  # mean points per criterion and channel (answered tests)
    criterion_max: dict  # criterion -> its maximum points in the rubric (the weight)
    brand_criteria: pd.DataFrame  # per brand: mean points of each criterion as a share of its maximum
    sector_criteria: pd.DataFrame  # the same per sector
    cross_channel: pd.DataFrame  # per scenario: share of brands answering on every channel
    cross_channel_share: float
    window_h: float
    overall: dict = field(default_factory=dict)  # the figures of every sent test pooled
    samples: dict = field(default_factory=dict)  # (brand_key, channel | "*") -> bootstrap indices
    comparison: dict | None = None  # {"brands": DataFrame, "sectors": DataFrame, "source": str}
    scenario_titles: dict = field(default_factory=dict)  # scenario key -> {lang: title} (its YAML's titles:)
    # scenario key -> [(key point id, its label, {lang: label} of its YAML's labels:)]
    key_points: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the named tables the exports write (tests first)."""
        out = {"tests": self.tests, "overall": pd.DataFrame([self.overall]), "brand_channel": self.brand_channel, "brands": self.brands,
               "sectors": self.sectors, "scenarios": self.scenarios, "channels": self.channels,
               "criteria": self.criteria, "brand_criteria": self.brand_criteria,
               "sector_criteria": self.sector_criteria, "cross_channel": self.cross_channel}
        if self.comparison:
            out["comparison_brands"] = self.comparison["brands"]
            out["comparison_sectors"] = self.comparison["sectors"]
        return out


def rules_from_config(config: dict) -> AwardRules:
    """Return the AwardRules of a campaign from its stored campaign.toml ([awards] table)."""
    raw = (config or {}).get("awards", {}) or {}
    d = AwardRules()
    kw = {k: type(getattr(d, k))(raw[k]) for k in (
        "delay_weight", "quality_weight", "min_tests_per_brand", "min_brands_per_sector",
        "min_candidates", "min_index", "bootstrap_samples", "confidence", "rule", "min_answered",
        "precision", "caution_probability") if k in raw}
    if "channel_weights" in raw:
        kw["channel_weights"] = {str(k): float(v) for k, v in raw["channel_weights"].items()}
    if "tie_break" in raw:
        kw["tie_break"] = tuple(raw["tie_break"])
    if "social_channels" in raw:
        kw["social_channels"] = tuple(str(c) for c in raw["social_channels"])
    return AwardRules(**kw)


FIGURE_COLUMNS = ("answered", "time_h", "business_time_h", "acknowledged", "undeliverable", "deflected",
                  "quality", "quality_all")


def _stack_figures(col: dict, window_h: float, w_delay: float, w_quality: float) -> dict[str, np.ndarray]:
    """Return the figures of a stack of g groups of n sent tests each: name -> array (g,).

    `col` maps FIGURE_COLUMNS to (g, n) arrays, one row per group (rates, KM buckets, quality,
    index). Row by row the arithmetic is that of one group alone, so figures do not depend on
    which groups are computed together.
    """
    ev = col["answered"].astype(bool)
    g, n = ev.shape
    t, bt = col["time_h"].astype(float), col["business_time_h"].astype(float)
    cps = [*CHECKPOINTS_H, window_h]
    (cal, median), (bus, business_median) = km_summary_stack(t, ev, cps), km_summary_stack(bt, ev, cps)
    q, qa = col["quality"].astype(float), col["quality_all"].astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = lambda a: np.mean(a.astype(bool), axis=1)  # noqa: E731
        k = ev.sum(axis=1)
        # the median among answered tests only: np.median of each row's answered times (the middle
        # one, or the mean of the two middle ones; (x + x) / 2 is x exactly)
        srt = np.sort(np.where(ev, t, np.inf), axis=1)
        rows = np.arange(g)
        lo, hi = srt[rows, np.maximum(k - 1, 0) // 2], srt[rows, np.minimum(k // 2, n - 1)]
        answered_median = np.where(k > 0, (lo + hi) / 2, np.nan)
        out = {"tests": np.full(g, n), "answered": k, "answer_rate": rate(ev),
               "ack_rate": rate(col["acknowledged"]), "undeliverable_rate": rate(col["undeliverable"]),
               "deflected": col["deflected"].astype(bool).sum(axis=1),
               "median_h": median, "business_median_h": business_median,
               # named apart: the median among answered tests only, never "the" median delay
               "answered_median_h": answered_median}
        for i, name in enumerate(BUCKETS):
            out[name] = cal[:, i]
            out[f"business_{name}"] = bus[:, i]
        nanmean = lambda a: np.where(np.isnan(a).all(axis=1), np.nan, np.nansum(a, axis=1) / (~np.isnan(a)).sum(axis=1))  # noqa: E731
        out["quality"], out["quality_all"] = nanmean(q), nanmean(qa)
    out["delay_score"] = 100.0 * np.mean(cal, axis=1)
    out["index"] = (w_delay * out["delay_score"] + w_quality * np.nan_to_num(out["quality_all"])) / 100.0
    return out


def _group_figures(g, window_h: float, w_delay: float, w_quality: float) -> dict:
    """Return the figures of one group of sent tests (a stack of one group).

    `g` is a DataFrame or a dict of numpy arrays holding FIGURE_COLUMNS.
    """
    out = _stack_figures({c: np.asarray(g[c])[None] for c in FIGURE_COLUMNS}, window_h, w_delay, w_quality)
    return {k: (int(v[0]) if k in ("tests", "answered", "deflected") else float(v[0])) for k, v in out.items()}


def _groups(frame: pd.DataFrame, keys: list[str], factorised: dict) -> list[tuple]:
    """Return [(key, row positions)] of `frame` grouped by `keys` (a tuple key for several), in key
    order: sorted(frame.groupby(keys).indices.items()), rows without a key dropped, from codes.

    `factorised` keeps each column's codes (pd.factorize, sorted) for the next grouping.
    """
    codes, values = [], []
    for k in keys:
        if k not in factorised:
            c, u = pd.factorize(frame[k], sort=True)
            factorised[k] = (c, u.tolist())
        codes.append(factorised[k][0])
        values.append(factorised[k][1])
    kept = np.flatnonzero(np.logical_and.reduce([c >= 0 for c in codes]))
    if not len(kept):
        return []
    order = kept[np.lexsort([c[kept] for c in reversed(codes)])]  # stable: each group's rows ascending
    sorted_codes = [c[order] for c in codes]
    starts = np.flatnonzero(np.logical_or.reduce([np.diff(c, prepend=-1) != 0 for c in sorted_codes]))
    ends = [*starts[1:].tolist(), len(order)]
    out = []
    for a, b in zip(starts.tolist(), ends, strict=True):
        key = tuple(v[c[a]] for v, c in zip(values, sorted_codes, strict=True))
        out.append((key if len(keys) > 1 else key[0], order[a:b]))
    return out


def _by_size(groups: list) -> dict[int, list[int]]:
    """Return group positions by their number of tests: each size is one stack (most are equal)."""
    sizes: dict[int, list[int]] = {}
    for i, (_, idx) in enumerate(groups):
        sizes.setdefault(len(idx), []).append(i)
    return sizes


_BOOT_CHUNK = 64
BACKGROUND_FROM_REPLICATES = 500_000  # cells x replicates from which the bootstrap runs in a forked process
_FORKED_SHARE = 0.65  # of the cells: this process builds the tables and draws the rest meanwhile


@lru_cache(maxsize=32)
def _compositions(n: int, replicates: int):
    """Return every multiplicity vector a resample of n tests can have, when they are few.

    (weights (m, n) as floats, lookup, base): a drawn vector w is row lookup[w @ base] of
    weights. None when there are as many as half the replicates (computing each replicate is
    then as cheap), or the lookup would be large.
    """
    if math.comb(2 * n - 1, n) * 2 > replicates or (n + 1) ** n > 1_000_000:
        return None
    rows = [c for c in itertools.product(range(n + 1), repeat=n) if sum(c) == n]
    base = (n + 1) ** np.arange(n)
    weights = np.array(rows, dtype=np.int64)
    lookup = np.full((n + 1) ** n, -1, dtype=np.int64)
    lookup[weights @ base] = np.arange(len(rows))
    return weights.astype(float), lookup, base


def _bootstrap_cells(arrays: dict, cells: list, window_h: float, rules: AwardRules, seed: int,
                     ahead: dict | None = None) -> tuple[dict, dict]:
    """Return (brand_key, channel) -> B bootstrap replicates of its index (tests resampled with
    replacement), and (brand_key, channel) -> the interval of those (interval_bounds).

    `cells` is [((brand_key, channel), row positions in `arrays`)]. Each cell draws its own
    stream, seeded by the campaign seed and its key (qualibench.resampling); cells of equal size
    are computed as one stack. `ahead`: weights already drawn, (brand_key, channel, n) -> counts.
    """
    ahead = ahead or {}
    b = rules.bootstrap_samples
    cps = np.array([*CHECKPOINTS_H, window_h])
    out: dict = {}
    bounds: dict = {}  # (brand_key, channel) -> its interval, drawn with the samples (attach_ci's rule)
    for n, same_size in _by_size(cells).items():
        table = _compositions(n, b)
        # a few dozen cells at a time: their (cells, B, n) arrays stay in the processor's cache
        for start in range(0, len(same_size), _BOOT_CHUNK):
            members = same_size[start:start + _BOOT_CHUNK]
            idx = np.stack([cells[i][1] for i in members])
            drawn = np.stack([ahead[bk, ch, n] if (bk, ch, n) in ahead else cell_weights(seed, bk, ch, n, b)
                              for (bk, ch), _ in (cells[i] for i in members)])
            if table is None:
                w, which = drawn.astype(float), None
            else:
                # A replicate's index depends only on its multiplicities, and a small cell has
                # few possible ones (10 for 3 tests): each is computed once per cell, with the
                # same arithmetic row by row, and every replicate takes its own one's value.
                weights, lookup, base = table
                w, which = np.broadcast_to(weights, (len(members), *weights.shape)).copy(), lookup[drawn @ base]
            ev = arrays["answered"][idx].astype(bool)
            t, _, surv = km_stack(arrays["time_h"][idx].astype(float), ev, w)
            delay = 100.0 * f_at_stack(t, surv, cps).mean(axis=2)
            q = arrays["quality_all"][idx].astype(float)[:, None, :]
            ok = ~np.isnan(q)
            denom = (w * ok).sum(axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                qual = np.where(denom > 0, (w * np.nan_to_num(q)).sum(axis=2) / denom, 0.0)
            index = (rules.delay_weight * delay + rules.quality_weight * qual) / 100.0
            if which is not None:
                index = np.take_along_axis(index, which, axis=1)
            low, high = interval_bounds(index, rules)
            for row, i in enumerate(members):
                out[cells[i][0]] = index[row]
                bounds[cells[i][0]] = (low[row], high[row])
    return {key: out[key] for key, _ in cells}, bounds


def channel_weights(rules: AwardRules, channels: list[str]) -> dict[str, float]:
    """Return the weight of each channel in a brand's index (equal when the campaign sets none)."""
    if not rules.channel_weights:
        return {c: 1.0 for c in channels}
    return {c: float(rules.channel_weights.get(c, 0.0)) for c in channels}


def analyse(ws_or_session, campaign_id: int, rules: AwardRules | None = None, *,
            as_of: datetime | None = None, previous: str | None = None, weights_ahead=None,
            tests_ready=None) -> Analysis:
    """Return the Analysis of a campaign (tables, KM figures, indices and their intervals).

    `weights_ahead(seed, b)`: the bootstrap weights drawn by another process (the report's chart
    process), {(brand_key, channel, n): counts}, asked for when the bootstrap starts.
    `tests_ready(tests, window_h)`: told the tests as soon as they are read (the Analysis's
    `tests` and `window_h`, unchanged after), so the report's charts of them can start.
    """
    if isinstance(ws_or_session, Session):
        return _analyse(ws_or_session, campaign_id, rules, as_of, previous, weights_ahead, tests_ready)
    with ws_or_session.session() as s:
        return _analyse(s, campaign_id, rules, as_of, previous, weights_ahead, tests_ready)


def _analyse(s: Session, campaign_id: int, rules: AwardRules | None, as_of, previous, weights_ahead=None,
             tests_ready=None) -> Analysis:
    # a Core row of the columns read (Session.get's first call in a process costs a tenth of a second)
    camp = s.execute(select(Campaign.id, Campaign.slug, Campaign.name, Campaign.edition, Campaign.seed,
                            Campaign.config).where(Campaign.id == campaign_id)).one()
    rules = rules or rules_from_config(camp.config)
    window_days = int((camp.config.get("window") or {}).get("days", 14))
    window_h = window_days * 24.0
    tests = load_tests(s, campaign_id, as_of=as_of)
    if tests_ready is not None:
        tests_ready(tests, window_h)
    # the columns the figures read (not the texts nor the timestamps): filtering them all costs more
    read = [*dict.fromkeys(["brand_key", "brand", "sector", "channel", "scenario", "scenario_title", "kind",
                            "language", *FIGURE_COLUMNS, *(c for c in tests.columns if c.startswith("crit_"))])]
    sent = tests.loc[tests["sent"], read] if len(tests) else tests
    arrays = {c: sent[c].to_numpy() for c in FIGURE_COLUMNS} if len(sent) else {}

    factorised: dict = {}  # key column -> its codes and sorted values, shared by every grouping

    def table(keys: list[str]) -> pd.DataFrame:
        if sent.empty:
            return pd.DataFrame(columns=[*keys, "tests"])
        # groups of equal size computed as one stack: pandas' groupby.apply costs more than the figures
        groups = _groups(sent, keys, factorised)
        cols: dict[str, np.ndarray] = {}
        for _n, members in _by_size(groups).items():
            idx = np.stack([groups[i][1] for i in members])
            part = _stack_figures({c: a[idx] for c, a in arrays.items()}, window_h, rules.delay_weight,
                                  rules.quality_weight)
            for name, values in part.items():
                cols.setdefault(name, np.empty(len(groups), dtype=values.dtype))[members] = values
        for c in ("tests", "answered", "deflected"):  # counts, as integers
            cols[c] = cols[c].astype(np.int64)
        named = [key if isinstance(key, tuple) else (key,) for key, _ in groups]
        return pd.DataFrame({k: [key[i] for key in named] for i, k in enumerate(keys)} | cols)

    cells = _groups(sent, ["brand_key", "channel"], factorised) if rules.bootstrap_samples > 0 and len(sent) else []
    # The bootstrap, the most numpy work, shared with the other core: a forked process draws the
    # first cells while this one builds the tables and draws the rest (each cell its own stream).
    fork = len(cells) * rules.bootstrap_samples >= BACKGROUND_FROM_REPLICATES
    split = int(len(cells) * _FORKED_SHARE) if fork else len(cells)
    ahead = weights_ahead(camp.seed, rules.bootstrap_samples) if cells and weights_ahead else None
    boot = Forked(_bootstrap_cells, arrays, cells[:split], window_h, rules, camp.seed, ahead, fork=fork) if cells else None
    bc = table(["brand_key", "channel"])
    names = sent[["brand_key", "brand", "sector"]].drop_duplicates("brand_key").set_index("brand_key")
    bc = bc.join(names, on="brand_key")
    brands = table(["brand_key"]).drop(columns=["index"], errors="ignore").join(names, on="brand_key")
    sectors = table(["sector"])
    scenarios, channels = table(["scenario", "scenario_title", "kind", "language"]), table(["channel"])
    per_scen, share = _cross_channel(sent)
    crit_cols = sorted(c for c in sent.columns if c.startswith("crit_"))
    answered = sent.loc[sent["answered"], ["brand_key", "sector", "channel", *crit_cols]]
    criteria = (answered.groupby("channel")[crit_cols].mean().reset_index() if crit_cols and len(answered)
                else pd.DataFrame(columns=["channel"]))
    maxima = criterion_maxima(camp.config, [c[5:] for c in crit_cols], answered)
    shares = _criterion_shares(answered, ["brand_key"], maxima), _criterion_shares(answered, ["sector"], maxima)
    pooled = _group_figures(arrays, window_h, rules.delay_weight, rules.quality_weight) if len(sent) else {}

    samples: dict = {}
    bounds: dict = {}
    if boot:
        mine, mine_bounds = _bootstrap_cells(arrays, cells[split:], window_h, rules, camp.seed, ahead)  # before waiting
        theirs, their_bounds = boot.result()
        drawn, bounds = theirs | mine, their_bounds | mine_bounds
        samples = {key: drawn[key] for key, _ in cells}
    attach_ci(bc, samples, rules, list(zip(bc["brand_key"], bc["channel"], strict=True)), bounds)
    overall, channels_tested, channels_answered = {}, {}, {}
    answered_cells = bc["answered"].to_numpy() > 0 if len(bc) else None
    for bk, pos, _, index, smp in brand_indices(bc, rules, samples):
        overall[bk] = index
        channels_tested[bk] = len(pos)
        channels_answered[bk] = int(answered_cells[pos].sum())
        if smp is not None:
            samples[(bk, "*")] = smp
    brands["index"] = brands["brand_key"].map(overall)
    brands["channels_tested"] = brands["brand_key"].map(channels_tested)
    brands["channels_answered"] = brands["brand_key"].map(channels_answered)
    brands["answered_every_channel"] = (brands["channels_tested"] >= 2) & (
        brands["channels_answered"] == brands["channels_tested"])
    attach_ci(brands, samples, rules, [(k, "*") for k in brands["brand_key"]])
    cons = _consistency(bc, sent)
    brands = brands.merge(cons, on="brand_key", how="left")

    sectors["brands"] = sectors["sector"].map(brands.groupby("sector")["brand_key"].nunique())
    sectors["index"] = sectors["sector"].map(brands.groupby("sector")["index"].mean())
    specs = dict(s.execute(select(Scenario.key, Scenario.spec).where(Scenario.campaign_id == campaign_id)).all())
    titles = {key: {str(k): str(v) for k, v in spec["titles"].items() if v}
              for key, spec in specs.items() if isinstance((spec or {}).get("titles"), dict)}
    info = {"id": camp.id, "slug": camp.slug, "name": camp.name, "edition": camp.edition, "seed": camp.seed,
            "config": camp.config, "window_days": window_days}
    result = Analysis(
        campaign=info, rules=rules, tests=tests, brand_channel=bc, brands=brands, sectors=sectors,
        scenarios=scenarios, channels=channels, criteria=criteria, criterion_max=maxima,
        brand_criteria=shares[0], sector_criteria=shares[1], cross_channel=per_scen, cross_channel_share=share,
        window_h=window_h, overall=pooled,
        samples=samples, scenario_titles=titles, key_points={k: _key_points(v) for k, v in specs.items()},
    )
    if previous:
        from .comparison import compare_editions

        result.comparison = compare_editions(result, previous)
    return result


def _key_points(spec: dict | None) -> list[tuple[str, str, dict]]:
    out = []
    for kp in (spec or {}).get("key_points") or []:
        if isinstance(kp, dict):
            own = kp.get("labels") if isinstance(kp.get("labels"), dict) else {}
            out.append((str(kp.get("id", "")), str(kp.get("label", "")),
                        {str(k): str(v) for k, v in own.items() if v}))
    return out


def brand_indices(bc: pd.DataFrame, rules: AwardRules, samples: dict):
    """Yield per brand of `bc` (brand x channel rows): key, row positions, total weight, index, samples.

    The one rule for a brand's index over several channels: its channel indices weighted by
    channel_weights, renormalised over the channels it was tested on (NaN when they weigh 0).
    The samples combine the channels' the same way (None when a channel has none).
    """
    if bc.empty:
        return
    chs, idx = bc["channel"].to_numpy(), bc["index"].to_numpy()
    for bk, pos in sorted(bc.groupby("brand_key").indices.items()):
        cells = list(chs[pos])
        wts = channel_weights(rules, cells)
        tot = sum(wts.values())
        index = sum(wts[c] * i for c, i in zip(cells, idx[pos], strict=True)) / tot if tot else math.nan
        smp = None
        if tot and samples and all((bk, c) in samples for c in cells):
            smp = sum(wts[c] * samples[(bk, c)] for c in cells) / tot
        yield bk, pos, tot, index, smp


def interval_bounds(stack: np.ndarray, rules: AwardRules) -> tuple[np.ndarray, np.ndarray]:
    """Return the bootstrap interval (at rules.confidence) of each row of a stack of samples: (low, high).

    Each row's bounds are its own quantiles: they do not depend on the rows computed with it.
    """
    alpha = (1 - rules.confidence) / 2
    q = np.quantile(stack, [alpha, 1 - alpha], axis=1)
    return q[0], q[1]


def attach_ci(df: pd.DataFrame, samples: dict, rules: AwardRules, keys: list, bounds: dict | None = None) -> None:
    """Set df's index_low / index_high: the bootstrap interval of each row's samples (keys[i]).

    `bounds`: key -> (low, high) already computed with interval_bounds (the bootstrap's).
    """
    lo, hi = np.full(len(keys), math.nan), np.full(len(keys), math.nan)
    have = [i for i, k in enumerate(keys) if samples.get(k) is not None]
    if have and bounds and all(keys[i] in bounds for i in have):
        lo[have] = [bounds[keys[i]][0] for i in have]
        hi[have] = [bounds[keys[i]][1] for i in have]
    elif have:
        lo[have], hi[have] = interval_bounds(np.stack([samples[keys[i]] for i in have]), rules)
    df["index_low"], df["index_high"] = lo, hi
