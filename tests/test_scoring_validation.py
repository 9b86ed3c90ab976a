"""The labelled set: automatic scores must rank the replies like the hand scores.

The hand scores in tests/fixtures/scoring/replies.yaml were written before the rubric was tuned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qualibench.scorer.engine import score_reply
from qualibench.scorer.rubric import load_rubric

FIXTURES = Path(__file__).parent / "fixtures" / "scoring"


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rho: Pearson correlation of the ranks (ties get their average rank)."""
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return r
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy)


def test_spearman_helper_on_known_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)


@pytest.fixture(scope="module")
def labelled():
    data = yaml.safe_load((FIXTURES / "replies.yaml").read_text())
    scenarios = {}
    for path in (FIXTURES / "scenarios").glob("*.yaml"):
        spec = yaml.safe_load(path.read_text())
        scenarios[spec["id"]] = spec
    rubric = load_rubric()
    persona = data["persona"]
    hand, auto = [], []
    for item in data["replies"]:
        scenario = scenarios[item["scenario"]]
        fills = item.get("fills") or {}
        request = scenario["body"].replace("{first_name}", persona["first_name"]).replace("{last_name}", persona["last_name"])
        for key, value in fills.items():
            request = request.replace("{" + key + "}", value)
        result = score_reply(item["text"], scenario, rubric, request_text=request,
                             persona_name=f"{persona['first_name']} {persona['last_name']}", fills=fills)
        hand.append(item["hand"])
        auto.append(result)
    return data["replies"], hand, auto, rubric


def test_the_labelled_set_is_large_and_bilingual(labelled):
    replies, _, auto, _ = labelled
    assert len(replies) >= 40
    assert {r.language for r in auto} == {"fr", "en"}
    assert len({r["scenario"] for r in replies}) >= 4


def test_totals_rank_like_the_hand_scores(labelled):
    _, hand, auto, _ = labelled
    rho = spearman([sum(h.values()) for h in hand], [a.total for a in auto])
    print(f"total Spearman rho = {rho:.3f}")
    assert rho >= 0.8


@pytest.mark.parametrize("criterion", ["relevance", "reformulation", "empathy", "personalisation", "politeness"])
def test_each_criterion_ranks_like_the_hand_scores(labelled, criterion):
    _, hand, auto, _ = labelled
    rho = spearman([h[criterion] for h in hand], [a.criteria[criterion] for a in auto])
    print(f"{criterion} Spearman rho = {rho:.3f}")
    assert rho >= 0.7
