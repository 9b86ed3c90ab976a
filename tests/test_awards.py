"""Trophies: published-index winners, ex aequo on equal published indices, cautions, eligibility."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd

from qualibench.analytics import analyse
from qualibench.awards import compute_trophies, published_ranks, rank_table
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
                     "tests": 6, "answered": 5, "quality": (quality or {}).get(k, 50.0), "answer_rate": 0.8, "median_h": 5.0,
                     "answered_every_channel": False})
    df = pd.DataFrame(rows)
    return SimpleNamespace(brand_channel=df, brands=df.drop(columns="channel"), samples=samples, rules=AwardRules())


def _channel(a, rules=None):
    return next(t for t in compute_trophies(a, rules) if t.category == "channel")


def test_clear_leader_wins_alone_with_lead_interval_and_probability():
    a = _analysis({"a": 80, "b": 60, "c": 55}, {"a": 2, "b": 2, "c": 2})
    t = _channel(a)
    assert [w.brand_key for w in t.winners] == ["a"] and not t.ex_aequo
    assert t.margin == 20 and t.margin_low > 0 and t.runner_up.brand_key == "b"
    assert len(t.nominees) == 3 and t.p_first == 1.0 and not t.cautions


def test_close_indices_give_one_winner_with_a_caution_not_a_shared_title():
    # 80 vs 78 with wide intervals: the old rule tied them; the published rule does not.
    a = _analysis({"a": 80, "b": 78, "c": 40}, {"a": 8, "b": 8, "c": 2})
    t = _channel(a)
    assert not t.ex_aequo and [w.brand_key for w in t.winners] == ["a"]
    assert t.runner_up.brand_key == "b" and t.margin == 2
    assert t.margin_low < 0 < t.margin_high  # the lead is uncertain, and said so
    assert 0.4 < t.p_first < 0.8 and "uncertain" in t.cautions


def test_the_stricter_statistical_rule_shares_the_title():
    a = _analysis({"a": 80, "b": 78, "c": 40}, {"a": 8, "b": 8, "c": 2})
    t = _channel(a, AwardRules(rule="significant"))
    assert t.ex_aequo and [w.brand_key for w in t.winners] == ["a", "b"]
    assert t.runner_up.brand_key == "c" and t.margin == 40 and t.margin_low > 0


def test_ex_aequo_only_on_equal_published_indices_ordered_by_tie_break():
    a = _analysis({"a": 70.04, "b": 69.96, "c": 69.8}, dict.fromkeys("abc", 1.0),
                  quality={"a": 40, "b": 90, "c": 99})
    t = _channel(a)
    # 70.0 = 70.0 > 69.8 at one decimal: a and b share it, b listed first (better quality)
    assert t.ex_aequo and [w.brand_key for w in t.winners] == ["b", "a"]
    assert t.runner_up.brand_key == "c" and round(t.margin, 6) == 0.2
    t2 = _channel(a, AwardRules(precision=2))
    assert [w.brand_key for w in t2.winners] == ["a"] and not t2.ex_aequo


def test_too_few_candidates_means_no_title():
    a = _analysis({"a": 80, "b": 60}, {"a": 2, "b": 2})
    t = _channel(a)
    assert not t.awarded and not t.winners and t.reason_code == "few_candidates"
    assert "fewer than the 3 required" in t.reason


def test_eligibility_is_answers_and_index_and_few_tests_is_a_caution():
    a = _analysis({"a": 80, "b": 60, "c": 55, "d": 20}, dict.fromkeys("abcd", 1.0))
    bc = a.brand_channel
    bc.loc[bc["brand_key"] == "c", "answered"] = 0
    t = _channel(a, replace(AwardRules(), min_index=50))
    assert [n.brand_key for n in t.nominees] == ["a", "b"] and not t.awarded
    bc.loc[bc["brand_key"] == "a", "tests"] = 2
    t = _channel(a, replace(AwardRules(), min_candidates=2))
    assert t.winners[0].brand_key == "a" and "few_tests" in t.cautions


def test_tie_break_orders_equal_indices():
    a = _analysis({"a": 70, "b": 70, "c": 10}, dict.fromkeys("abc", 1.0), quality={"a": 40, "b": 90})
    ranked = rank_table(a.brand_channel, AwardRules(tie_break=("quality",)))
    assert list(ranked["brand_key"]) == ["b", "a", "c"]
    assert published_ranks(ranked, AwardRules()) == [1, 1, 3]
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
            assert not t.awarded and t.reason_code == "few_brands" and "brand(s) in the sector" in t.reason
    assert {t.category for t in trophies} == {"channel", "social", "cross_channel", "sector", "grand_prix"}
    social = next(t for t in trophies if t.category == "social")
    assert social.awarded and 0 <= social.p_first <= 1
    cross = next(t for t in trophies if t.category == "cross_channel")
    eligible = set(a.brands.loc[a.brands["answered_every_channel"], "brand_key"])
    assert {n.brand_key for n in cross.nominees} <= eligible


def test_every_title_goes_to_the_highest_published_index_and_shares_only_on_equal_ones(finished):
    ws, cid = finished
    a = analyse(ws, cid)
    for t in compute_trophies(a):
        if not t.awarded:
            continue
        top = max(round(n.index, 1) for n in t.nominees)
        assert {round(w.index, 1) for w in t.winners} == {top}, t
        assert t.ex_aequo == (len(t.winners) > 1)
        assert all(round(n.index, 1) < top for n in t.nominees if n not in t.winners)
        if t.runner_up is not None:
            assert round(t.margin, 6) == round(top - round(t.runner_up.index, 1), 6)
            assert t.margin_low <= t.margin_high
        assert 0 <= t.p_first <= 1
        assert ("uncertain" in t.cautions) == (t.p_first < a.rules.caution_probability)


def test_rank_table_orders_as_a_sort_of_its_keys_with_missing_values_last():
    """rank_table's order is the sort the rule states: published index (higher first), each
    tie-break in its direction, then brand key; a missing value sorts last in every key."""
    import random

    from qualibench.awards import TIE_BREAKS

    rng = random.Random(3)
    n = 300
    df = pd.DataFrame({
        "brand_key": [f"b{rng.randrange(10 ** 6):06d}-{i}" for i in range(n)],
        "index": [rng.choice([np.nan, 50.04, 50.0, 49.96]) if rng.random() < 0.5 else rng.uniform(0, 100) for i in range(n)],
        "quality": [rng.choice([np.nan, 60.0, 70.0]) for _ in range(n)],
        "median_h": [rng.choice([np.nan, 2.0, 5.5]) for _ in range(n)],
        "tests": [rng.choice([3, 6]) for _ in range(n)],
    })
    rules = AwardRules(tie_break=("quality", "median_delay", "tests"))
    cols = ["quality", "median_h", "tests"]
    expected = df.assign(_idx=df["index"].round(rules.precision)).sort_values(
        ["_idx", *cols, "brand_key"], ascending=[False] + [not TIE_BREAKS[k][1] for k in rules.tie_break] + [True],
        na_position="last")
    assert list(rank_table(df, rules)["brand_key"]) == list(expected["brand_key"])
