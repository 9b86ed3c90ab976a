"""Trophies: eligibility, ex aequo under the bootstrap, sector minimum, tie-break order."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from qualibench.analytics import analyse
from qualibench.awards import compute_trophies, rank_table
from qualibench.campaign.spec import AwardRules


def _analysis(indices: dict[str, float], spreads: dict[str, float], *, sector="Banque", quality=None):
    """A hand-made Analysis: one channel, brands with given indices and bootstrap spreads."""
    rng = np.random.default_rng(1)
    rows = []
    samples = {}
    for k, idx in indices.items():
        smp = idx + rng.normal(0, spreads[k], 1000)
        samples[(k, "email")] = smp
        samples[(k, "*")] = smp
        rows.append({"brand_key": k, "brand": k.upper(), "sector": sector, "channel": "email", "index": idx,
                     "index_low": np.quantile(smp, 0.025), "index_high": np.quantile(smp, 0.975),
                     "tests": 6, "quality": (quality or {}).get(k, 50.0), "answer_rate": 0.8, "median_h": 5.0,
                     "answered_every_channel": False})
    df = pd.DataFrame(rows)
    return SimpleNamespace(brand_channel=df, brands=df.drop(columns="channel"), samples=samples, rules=AwardRules())


def test_clear_leader_wins_alone_with_margin_and_interval():
    a = _analysis({"a": 80, "b": 60, "c": 55}, {"a": 2, "b": 2, "c": 2})
    t = next(t for t in compute_trophies(a) if t.category == "channel")
    assert [w.brand_key for w in t.winners] == ["a"] and not t.ex_aequo
    assert t.margin == 20 and t.margin_low > 0 and t.runner_up.brand_key == "b"
    assert len(t.nominees) == 3


def test_ex_aequo_when_the_gap_is_not_significant():
    a = _analysis({"a": 80, "b": 78, "c": 40}, {"a": 8, "b": 8, "c": 2})
    t = next(t for t in compute_trophies(a) if t.category == "channel")
    assert t.ex_aequo and [w.brand_key for w in t.winners] == ["a", "b"]
    assert t.runner_up.brand_key == "c"
    assert t.margin == 40 and t.margin_low > 0  # over the runner-up, whom the bootstrap separates


def test_too_few_candidates_means_no_title():
    a = _analysis({"a": 80, "b": 60}, {"a": 2, "b": 2})
    t = next(t for t in compute_trophies(a) if t.category == "channel")
    assert not t.awarded and not t.winners and "fewer than the 3 required" in t.reason


def test_min_index_and_min_tests_filter_nominees():
    a = _analysis({"a": 80, "b": 60, "c": 55, "d": 20}, dict.fromkeys("abcd", 1.0))
    a.brand_channel.loc[a.brand_channel["brand_key"] == "c", "tests"] = 2
    rules = replace(AwardRules(), min_index=50, min_tests_per_brand=3)
    t = next(t for t in compute_trophies(a, rules) if t.category == "channel")
    assert [n.brand_key for n in t.nominees] == ["a", "b"] and not t.awarded


def test_tie_break_orders_equal_indices():
    a = _analysis({"a": 70, "b": 70, "c": 10}, dict.fromkeys("abc", 1.0), quality={"a": 40, "b": 90})
    ranked = rank_table(a.brand_channel, AwardRules(tie_break=("quality",)))
    assert list(ranked["brand_key"]) == ["b", "a", "c"]
    ranked = rank_table(a.brand_channel, AwardRules(tie_break=("median_delay", "tests")))
    assert list(ranked["brand_key"])[:2] == ["a", "b"]  # all equal: brand key decides, stable


def test_sector_trophy_suppressed_under_three_brands(finished):
    ws, cid = finished
    a = analyse(ws, cid)
    trophies = compute_trophies(a)
    counts = a.brands.groupby("sector")["brand_key"].nunique()
    small = [s for s, n in counts.items() if n < 3]
    assert small, "the synthetic campaign has a two-brand sector"
    for t in trophies:
        if t.category == "sector" and t.scope in small:
            assert not t.awarded and "brand(s) in the sector" in t.reason
    assert {t.category for t in trophies} == {"channel", "cross_channel", "sector", "grand_prix"}
    cross = next(t for t in trophies if t.category == "cross_channel")
    eligible = set(a.brands.loc[a.brands["answered_every_channel"], "brand_key"])
    assert {n.brand_key for n in cross.nominees} <= eligible
