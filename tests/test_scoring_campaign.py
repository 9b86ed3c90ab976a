"""score_campaign / rescore_campaign / effective_scores on a real campaign database."""

from __future__ import annotations

from sqlmodel import select

from qualibench.models import Event, Score
from qualibench.scorer import effective_scores
from qualibench.scorer.campaign import brand_ranking, rescore_campaign, score_campaign
from qualibench.scorer.rubric import load_rubric
from tests.plugins.scoring import POLITENESS_ONLY_RUBRIC


def test_scores_answers_only_with_evidence_and_version(replied_campaign):
    ws, ids = replied_campaign
    report = score_campaign(ws)
    assert report.scored == len(ids["answers"])
    assert report.not_scored_kinds == {"auto_ack": 1, "out_of_office": 1, "bounce": 1}
    with ws.session() as s:
        rows = s.exec(select(Score)).all()
        assert {r.reply_id for r in rows} == set(ids["answers"])
        assert all(r.rubric_version == load_rubric().version and r.scorer == "auto" for r in rows)
        assert all(abs(sum(r.criteria.values()) - r.total) < 0.05 for r in rows)
        substantive = [r for r in rows if r.criteria["relevance"] > 0]
        assert substantive and all(r.evidence["relevance"] for r in substantive)
        assert all("relevance" in r.justification for r in rows)
        assert s.exec(select(Event).where(Event.kind == "score.auto")).first() is not None


def test_second_run_scores_nothing_new(replied_campaign):
    ws, ids = replied_campaign
    score_campaign(ws)
    again = score_campaign(ws)
    assert again.scored == 0 and again.already_scored == len(ids["answers"])
    with ws.session() as s:
        assert len(s.exec(select(Score)).all()) == len(ids["answers"])


def test_rescore_keeps_old_rows_and_reports_brands_that_move(replied_campaign, tmp_path):
    ws, ids = replied_campaign
    score_campaign(ws)
    with ws.session() as s:
        cid = ws.campaign(s).id
        before = brand_ranking(s, cid, None)
    rubric = tmp_path / "politeness.yaml"
    rubric.write_text(POLITENESS_ONLY_RUBRIC)
    report = rescore_campaign(ws, rubric, diff=True)
    assert report.old_version == load_rubric().version
    assert report.new_version == load_rubric(rubric).version != report.old_version
    assert report.score.scored == len(ids["answers"])
    with ws.session() as s:
        rows = s.exec(select(Score)).all()
        assert len(rows) == 2 * len(ids["answers"])  # the old rows stay
        after = brand_ranking(s, cid, report.new_version)
    best_before = max(before, key=before.get)
    best_after = max(after, key=after.get)
    assert best_before != best_after  # the substance brand leads on content, not on politeness
    moved = {m.brand for m in report.moves}
    assert best_before in moved and best_after in moved
    assert [m.new_rank for m in report.ranking] == sorted(m.new_rank for m in report.ranking)
    # Why they move: the politeness-only rubric zeroes every other criterion.
    leader = next(m for m in report.moves if m.brand == best_before)
    assert leader.criteria_change and leader.criteria_change.get("politeness", 0) >= 0
    assert all(d <= 0 for c, d in leader.criteria_change.items() if c != "politeness")
    assert any(d < 0 for d in leader.criteria_change.values())


def test_effective_scores_prefer_auditors_and_flag_disagreement(replied_campaign):
    ws, ids = replied_campaign
    score_campaign(ws)
    version = load_rubric().version
    first, second, third = ids["answers"][:3]
    with ws.session() as s:
        cid = ws.campaign(s).id
        auto = {r.reply_id: r for r in s.exec(select(Score))}

        def add(reply_id, scorer, total):
            crit = {"relevance": total, "reformulation": 0, "empathy": 0, "personalisation": 0,
                    "politeness": 0}
            s.add(Score(campaign_id=cid, reply_id=reply_id, rubric_version=version, scorer=scorer,
                        total=total, criteria=crit))
            s.flush()

        add(first, "auditor:ana", 12)
        add(second, "auditor:ana", 30)
        add(second, "auditor:ben", 32)  # within tolerance: averaged
        add(third, "auditor:ana", 5)
        add(third, "auditor:ben", 35)  # far apart: adjudication needed
        eff = effective_scores(s, cid)
        assert eff[first].source == "auditor:ana" and eff[first].total == 12
        assert eff[second].source == "auditor:ana+ben" and eff[second].total == 31
        assert not eff[second].needs_adjudication
        assert eff[third].needs_adjudication and eff[third].source == "adjudicate"
        untouched = ids["answers"][3]
        assert eff[untouched].source == "auto" and eff[untouched].total == auto[untouched].total
        add(third, "adjudicator:chef", 20)
        eff = effective_scores(s, cid)
        assert eff[third].source == "adjudicator:chef" and not eff[third].needs_adjudication
        assert effective_scores(s, cid, "no-such-version") == {}
        light = effective_scores(s, cid, totals_only=True)
        assert {k: (v.total, v.source) for k, v in light.items()} == {k: (v.total, v.source) for k, v in eff.items()}


def test_scoring_in_worker_processes_gives_the_same_rows(replied_campaign, tmp_path):
    ws, ids = replied_campaign
    score_campaign(ws, workers=1)
    rubric = tmp_path / "same-weights.yaml"
    from qualibench.resources import data_dir

    # Same rules, another description: a second version to score in parallel.
    text = (data_dir("scoring") / "rubrics" / "default.yaml").read_text()
    rubric.write_text(text.replace("description:", "description: (copy)"))
    report = rescore_campaign(ws, rubric, diff=False, workers=2)
    assert report.score.scored == len(ids["answers"])
    with ws.session() as s:
        rows = s.exec(select(Score).order_by(Score.id)).all()
    serial = {r.reply_id: (r.total, r.criteria, r.evidence) for r in rows if r.rubric_version == load_rubric().version}
    parallel = {r.reply_id: (r.total, r.criteria, r.evidence) for r in rows if r.rubric_version == report.new_version}
    assert serial == parallel and len(serial) == len(ids["answers"])


def test_the_campaign_toml_rubric_is_used_by_default(replied_campaign, tmp_path):
    ws, ids = replied_campaign
    custom = ws.root / "my-rubric.yaml"
    custom.write_text(POLITENESS_ONLY_RUBRIC)
    toml = ws.root / "campaign.toml"
    toml.write_text(toml.read_text().replace('rubric = "default"', 'rubric = "my-rubric.yaml"'))
    from qualibench.planning import plan_campaign
    from qualibench.workspace import Workspace

    ws = Workspace.open(ws.root, ws.db_url)
    plan_campaign(ws)  # stores the new configuration
    report = score_campaign(ws)
    assert report.rubric_version == load_rubric(custom).version
    assert report.scored == len(ids["answers"])
