"""Analytics: Kaplan-Meier with censoring, per-test table, indices, bootstrap, comparison."""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from qualibench import analytics
from qualibench.analytics import analyse, load_tests, rules_from_config
from qualibench.background import Forked
from qualibench.survival import km_at, km_curve, km_median


def test_kaplan_meier_matches_hand_computation_with_censoring():
    # times in hours; events False = censored. By hand: S(1)=4/5, S(2)=4/5*3/4=3/5 (the test
    # censored at 2 is still at risk at 2), S(3)=3/5*1/2=3/10; the censoring at 5 changes nothing.
    times = np.array([1, 2, 2, 3, 5], float)
    events = np.array([True, True, False, True, False])
    f = km_at(times, events, [0.5, 1, 2.5, 3, 10])
    assert f == pytest.approx([0.0, 0.2, 0.4, 0.7, 0.7])
    assert km_median(times, events) == 3.0
    t, F = km_curve(times, events)
    assert list(t) == [0, 1, 2, 3]
    assert list(F) == pytest.approx([0, 0.2, 0.4, 0.7])


def test_kaplan_meier_median_is_nan_when_most_tests_are_censored():
    assert math.isnan(km_median(np.array([1.0, 9, 9]), np.array([True, False, False])))


def test_weighted_kaplan_meier_equals_duplicated_tests():
    times = np.array([1, 2, 4, 6], float)
    events = np.array([True, False, True, False])
    weights = np.array([[2, 1, 0, 3]], float)
    dup_t = np.array([1, 1, 2, 6, 6, 6], float)
    dup_e = np.array([True, True, False, False, False, False])
    assert km_at(times, events, [1, 3, 5, 7], weights)[0] == pytest.approx(km_at(dup_t, dup_e, [1, 3, 5, 7]))


def test_load_tests_keeps_unanswered_and_undeliverable(finished):
    ws, cid = finished
    with ws.session() as s:
        df = load_tests(s, cid)
    sent = df[df["sent"]]
    assert (df["state"] == "failed").sum() == (~df["sent"]).sum()
    unanswered = sent[~sent["answered"]]
    assert len(unanswered) > 0
    # censored at the window end: 14 days after sending
    assert unanswered["time_h"].max() == pytest.approx(14 * 24)
    assert (unanswered["quality_all"] == 0).all() and unanswered["quality"].isna().all()
    und = sent[sent["undeliverable"]]
    assert len(und) > 0 and not und["answered"].any()
    answered = sent[sent["answered"]]
    assert (answered["business_delay_h"] <= answered["delay_h"] + 1e-9).all()
    assert answered["first_answer_reply_id"].notna().all()
    # a redirect is a human reply: it stops the clock, counts as answered, flagged deflected
    deflected = sent[sent["deflected"]]
    assert len(deflected) > 0 and deflected["answered"].all() and deflected["quality"].notna().all()
    # an acknowledgement never stops the clock
    acked = sent[sent["acknowledged"] & sent["answered"]]
    assert (acked["ack_delay_h"] < acked["delay_h"]).all()


def test_group_figures_are_consistent_with_the_tests(finished):
    ws, cid = finished
    a = analyse(ws, cid)
    sent = a.tests[a.tests["sent"]]
    ch = a.channels.set_index("channel")
    for c, g in sent.groupby("channel"):
        assert ch.loc[c, "tests"] == len(g)
        assert ch.loc[c, "answer_rate"] == pytest.approx(g["answered"].mean())
        # all windows are closed: KM at 24 h is the plain share answered within 24 h over ALL tests
        assert ch.loc[c, "within_24h"] == pytest.approx((g["answered"] & (g["delay_h"] <= 24)).mean())
        assert ch.loc[c, "quality_all"] == pytest.approx(g["quality_all"].mean())
    bc = a.brand_channel.iloc[0]
    expected = (30 * bc["delay_score"] + 70 * bc["quality_all"]) / 100
    assert bc["index"] == pytest.approx(expected)
    assert bc["index_low"] <= bc["index_high"]


def test_bootstrap_is_reproducible_and_seed_dependent(finished, monkeypatch):
    ws, cid = finished
    a1 = analyse(ws, cid)
    # the second run draws the bootstrap in a forked process (when forking is safe here): same replicates
    monkeypatch.setattr(analytics, "BACKGROUND_FROM_REPLICATES", 0)
    a2 = analyse(ws, cid)
    assert a1.brands["index_low"].tolist() == a2.brands["index_low"].tolist()
    assert list(a1.samples) == list(a2.samples)
    assert all(np.array_equal(a1.samples[k], a2.samples[k]) for k in a1.samples)
    key = next(iter(a1.samples))
    other = analyse(ws, cid, replace(a1.rules, bootstrap_samples=400))
    assert len(other.samples[key]) == 400


def test_forked_work_equals_in_line_and_survives_a_dead_child():
    assert Forked(sum, [1, 2, 3], fork=True).result() == Forked(sum, [1, 2, 3], fork=False).result() == 6

    def dies_in_a_child(parent=os.getpid()):
        if os.getpid() != parent:
            os._exit(3)  # killed mid-work: no result comes back
        return "computed here"
    assert Forked(dies_in_a_child, fork=True).result() == "computed here"


def test_rules_from_config_reads_the_awards_table():
    r = rules_from_config({"awards": {"delay_weight": 40, "quality_weight": 60, "tie_break": ["tests"],
                                      "channel_weights": {"email": 2}}})
    assert (r.delay_weight, r.quality_weight, r.tie_break, r.channel_weights) == (40.0, 60.0, ("tests",), {"email": 2.0})


def test_channel_weights_change_the_overall_index(finished):
    ws, cid = finished
    a = analyse(ws, cid)
    only_email = analyse(ws, cid, replace(a.rules, channel_weights={"email": 1.0}))
    bc = a.brand_channel[a.brand_channel["channel"] == "email"].set_index("brand_key")["index"]
    got = only_email.brands.set_index("brand_key")["index"]
    assert got.to_dict() == pytest.approx(bc.to_dict())


def test_tests_ready_gets_the_analysis_own_tests_before_the_figures(finished):
    ws, cid = finished
    seen = []
    a = analyse(ws, cid, tests_ready=lambda tests, window_h: seen.append((tests, window_h)))
    assert len(seen) == 1 and seen[0][0] is a.tests and seen[0][1] == a.window_h


def test_cross_channel_share(finished):
    ws, cid = finished
    a = analyse(ws, cid)
    sent = a.tests[a.tests["sent"]]
    per = sent.groupby(["scenario", "brand_key", "channel"])["answered"].any().groupby(["scenario", "brand_key"]).all()
    assert a.cross_channel_share == pytest.approx(per.mean())


def _random_tests(rng, n: int, *, missing: bool) -> pd.DataFrame:
    pick = lambda values: [values[i] for i in rng.integers(0, len(values), n)]  # noqa: E731
    return pd.DataFrame({"scenario": pick(["s1", "s2", "s3", None] if missing else ["s1", "s2", "s3"]),
                         "brand_key": pick(["b2", "b1", "b3", "b4"]),
                         "channel": pick(["x", "email", "webform"][: int(rng.integers(1, 4))]),
                         "answered": pick([True, False])})


def test_groups_and_cross_channel_table_are_their_groupby_statements():
    """_groups and _cross_channel count on integer codes: the same groups, rows, table and dtypes
    as the pandas groupby that states each rule, with missing keys and single-channel scenarios."""
    from qualibench.breakdown import _cross_channel

    rng = np.random.default_rng(5)
    for trial in range(16):
        sent = _random_tests(rng, int(rng.integers(1, 50)), missing=trial % 4 == 0)
        for keys in (["brand_key", "channel"], ["scenario"], ["scenario", "brand_key", "channel"]):
            want = sorted(sent.groupby(keys).indices.items())
            got = analytics._groups(sent, keys, {})
            assert [k for k, _ in got] == [k for k, _ in want]
            assert all(np.array_equal(g, w) for (_, g), (_, w) in zip(got, want, strict=True))
        per = sent.groupby(["scenario", "brand_key", "channel"])["answered"].any().reset_index()
        by_brand = per.groupby(["scenario", "brand_key"]).agg(channels=("channel", "nunique"), all_=("answered", "all"))
        by_brand = by_brand[by_brand["channels"] >= 2]
        want = by_brand.groupby("scenario").agg(brands=("all_", "size"), all_channels=("all_", "sum")).reset_index()
        want["share"] = want["all_channels"] / want["brands"]
        table, share = _cross_channel(sent)
        pd.testing.assert_frame_equal(table, want, check_exact=True)
        assert share == float(by_brand["all_"].mean()) if len(by_brand) else math.isnan(share)


def test_comparison_with_a_previous_export(finished, tmp_path):
    from qualibench.export import export_campaign

    ws, cid = finished
    paths = export_campaign(ws, "csv", tmp_path / "prev")
    brands_csv = next(p for p in paths if p.name == "brands.csv")
    import pandas as pd

    prev = pd.read_csv(brands_csv)
    prev["index"] = prev["index"] - 5
    prev.to_csv(brands_csv, index=False)
    a = analyse(ws, cid, previous=str(tmp_path / "prev"))
    assert a.comparison["brands"]["delta"].dropna().to_numpy() == pytest.approx(5.0)
    assert a.comparison["sectors"]["delta"].to_numpy() == pytest.approx(5.0)


def test_comparison_with_a_previous_database(finished, tmp_path):
    from qualibench.synthetic import build_finished_campaign
    from qualibench.workspace import Workspace

    ws, cid = finished
    prev_url = f"sqlite:///{tmp_path / 'previous.sqlite'}"
    prev = Workspace.open(tmp_path / "prev", prev_url)
    build_finished_campaign(prev, brands=12, channels=("email", "webform", "x"), scenarios=2, seed=99)
    a = analyse(ws, cid, previous=prev_url)
    before = analyse(prev, 1).brands.set_index("brand_key")["index"]
    got = a.comparison["brands"].set_index("brand_key")
    now = a.brands.set_index("brand_key")["index"]
    for key in now.index:
        assert got.loc[key, "delta"] == pytest.approx(now[key] - before[key])
    assert len(a.comparison["sectors"]) == a.brands["sector"].nunique()
