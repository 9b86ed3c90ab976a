"""Library and CLI sides of the review workspace: people, assignment, codes as auditor scores,
the blind sheet without the brand, `audit agreement --rubric` after a rescore."""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from qualibench.errors import QualibenchError
from qualibench.models import CodingAssignment, Event, Reviewer, ReviewLogin, Score
from qualibench.review.coding import Coding, assign_replies, code_reply, coding_item, queue
from qualibench.review.people import add_reviewer, check_password, redeem_login, set_password
from qualibench.scorer import effective_scores
from qualibench.scorer.agreement import agreement_report
from qualibench.scorer.audit import export_audit_sheet, import_audit_sheet
from qualibench.scorer.campaign import rescore_campaign
from tests.plugins.review import qb
from tests.plugins.scoring import POLITENESS_ONLY_RUBRIC

FULL = {"relevance": "30", "reformulation": "15", "empathy": "10", "personalisation": "5", "politeness": "8"}


def test_a_login_link_works_once_and_only_its_hash_is_stored(review_world):
    ws = review_world.ws
    person, token = add_reviewer(ws, "ana", "auditor")
    with ws.session() as s:
        stored = s.exec(select(ReviewLogin)).one()
        assert token not in stored.token_sha256 and len(stored.token_sha256) == 64
    assert redeem_login(ws, token) == person
    assert redeem_login(ws, token) is None  # spent
    assert redeem_login(ws, "forged-" + token) is None
    with pytest.raises(QualibenchError, match="already exists"):
        add_reviewer(ws, "ana", "auditor")
    with pytest.raises(QualibenchError, match="role"):
        add_reviewer(ws, "bob", "boss")
    set_password(ws, person, "correct horse battery")
    with ws.session() as s:
        assert s.exec(select(Reviewer)).one().password_hash.startswith("$argon2id$")
    assert check_password(ws, "ana", "correct horse battery") == person
    assert check_password(ws, "ana", "wrong password!") is None
    with ws.session() as s:
        kinds = [e.kind for e in s.exec(select(Event).where(Event.kind.startswith("review.")).order_by(Event.seq))]
    assert kinds == ["review.user_added", "review.login", "review.password_set", "review.login"]


def test_assignment_gives_each_reply_one_auditor_and_a_share_two(review_world):
    ws, answers = review_world.ws, review_world.answers
    report = assign_replies(ws, ["ana", "ben", "cy"], share=0.5, seed=3)
    assert report.replies == len(answers)
    with ws.session() as s:
        rows = s.exec(select(CodingAssignment)).all()
    per_reply: dict[int, set[str]] = {}
    for r in rows:
        per_reply.setdefault(r.reply_id, set()).add(r.reviewer)
    assert set(per_reply) == set(answers)
    doubles = sum(len(v) == 2 for v in per_reply.values())
    assert doubles == report.double and 0 < doubles < len(answers)
    assert max(report.per_auditor.values()) - min(report.per_auditor.values()) <= 1
    assert assign_replies(ws, ["ana"], share=1.0).replies == 0  # nothing assigned twice
    full = assign_replies(ws, ["x", "y"], share=1.0)
    assert full.replies == 0


def test_a_browser_code_is_an_auditor_score_that_agreement_and_effective_scores_read(review_world):
    ws, answers = review_world.ws, review_world.answers
    ana, _ = add_reviewer(ws, "ana", "auditor")
    assign_replies(ws, ["ana", "ben"], share=1.0)
    coding = Coding(ws)
    first = queue(coding, ana).next_ids[0]
    item = coding_item(coding, ana, first, blind=True)
    assert item.brand is None and item.auto is None
    assert not any(b in item.reply + item.request + item.subject for b in review_world.brands)
    with pytest.raises(QualibenchError, match="out of range"):
        code_reply(coding, ana, first, {**FULL, "politeness": "11"})
    with pytest.raises(QualibenchError, match="missing"):
        code_reply(coding, ana, first, {"relevance": "3"})
    row = code_reply(coding, ana, first, {**FULL, "comment": "clear answer"})
    assert row.scorer == "auditor:ana" and row.total == 68 and row.justification == "clear answer"
    assert queue(coding, ana).remaining == len(answers) - 1
    with ws.session() as s:
        eff = effective_scores(s, ws.campaign(s).id)[first]
    assert eff.source == "auditor:ana" and eff.total == 68
    assert "auditor:ana" in agreement_report(ws).scorers
    verified = qb(review_world, "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_blind_sheet_hides_the_brand_and_still_imports(review_world, tmp_path):
    ws = review_world.ws
    path = tmp_path / "blind.xlsx"
    export_audit_sheet(ws, path, blind=True)
    sheet = load_workbook(path)["audit"]
    header = [c.value for c in sheet[1]]
    assert "brand" not in header
    cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    assert not any(b in cells for b in review_world.brands)
    cols = {h: i + 1 for i, h in enumerate(header)}
    for crit, value in FULL.items():
        weight = {"relevance": 40, "reformulation": 20, "empathy": 20}.get(crit, 10)
        sheet.cell(row=2, column=cols[f"score:{crit} (0-{weight})"], value=float(value))
    sheet.parent.save(path)
    assert import_audit_sheet(ws, path, "ana").recorded == 1
    full = tmp_path / "full.xlsx"
    export_audit_sheet(ws, full, blind=False)
    assert "brand" in [c.value for c in load_workbook(full)["audit"][1]]


def test_agreement_rubric_option_shows_the_auditors_after_a_rescore(review_world, tmp_path):
    world = review_world
    ws, answers = world.ws, world.answers
    people = [(add_reviewer(ws, name, "auditor")[0], bump) for name, bump in (("ana", 0), ("ben", 5))]
    assign_replies(ws, ["ana", "ben"], share=1.0)
    coding = Coding(ws)
    for n, rid in enumerate(answers[:6]):
        for person, bump in people:
            code_reply(coding, person, rid, {**FULL, "relevance": str(10 + n * 4 + bump * (n % 2))})
    with ws.session() as s:
        old = s.exec(select(Score.rubric_version).where(Score.scorer == "auto")).first()
    rubric = tmp_path / "politeness.yaml"
    rubric.write_text(POLITENESS_ONLY_RUBRIC)
    rescore_campaign(ws, rubric, diff=False)
    after = json.loads(qb(world, "audit", "agreement", "--json").stdout)
    assert after["scorers"] == ["auto"]  # the new version has no auditor codes
    before = json.loads(qb(world, "audit", "agreement", "--json", "--rubric", old[:8]).stdout)
    assert before["rubric_version"] == old and before["scorers"] == ["auto", "auditor:ana", "auditor:ben"]
    lib = agreement_report(ws, rubric_version=old)
    pair = next(p for p in before["pairs"] if p["first"] == "auditor:ana" and p["second"] == "auditor:ben"
                and p["criterion"] == "relevance")
    assert pair["kappa"] == next(p.kappa for p in lib.pairs if p.first == "auditor:ana"
                                 and p.second == "auditor:ben" and p.criterion == "relevance")
    assert pair["replies"] == 6
    bad = qb(world, "audit", "agreement", "--rubric", "nonexistent", check=False)
    assert bad.returncode == 4 and "Hint:" in bad.stderr and "Traceback" not in bad.stderr


def test_review_cli_errors_are_one_line_with_a_fix(review_world):
    import socket

    bad = qb(review_world, "review", "add-user", "zoe", "--role", "boss", check=False)
    assert bad.returncode == 1 and "role 'boss' is not known" in bad.stderr and "Hint:" in bad.stderr
    assert "Traceback" not in bad.stderr
    missing = qb(review_world, "review", "link", "nobody", check=False)
    assert missing.returncode == 4 and "add-user nobody" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = qb(review_world, "review", "--port", str(taken.getsockname()[1]), check=False)
    assert busy.returncode == 1 and "cannot listen" in busy.stderr and "--port" in busy.stderr


def test_review_off_loopback_warns_before_anything_listens(review_world):
    # Only 127.0.0.1 may be bound here, so the warning path is run two ways through the console
    # script: --dry-run (prints what would be served, listens on nothing), and a real start on a
    # non-loopback address this machine does not have (TEST-NET-1), which fails at bind time:
    # the warning must already be out when that happens.
    WARNING = "Warning: serving on 0.0.0.0, reachable from other machines over plain HTTP"
    dry = qb(review_world, "review", "--host", "0.0.0.0", "--port", "8765", "--dry-run", check=False)
    assert dry.returncode == 0, dry.stderr
    assert WARNING in dry.stderr and "everyone must sign in" in dry.stderr
    assert "http://0.0.0.0:8765/" in dry.stdout and "nothing is listening" in dry.stdout
    local = qb(review_world, "review", "--port", "8765", "--dry-run", check=False)
    assert local.returncode == 0 and "Warning" not in local.stderr and "http://127.0.0.1:8765/" in local.stdout
    started = qb(review_world, "review", "--host", "192.0.2.1", "--port", "0", check=False)
    assert started.returncode == 1 and "cannot listen on 192.0.2.1:0" in started.stderr, started.stderr
    lines = started.stderr.splitlines()
    warned = next(i for i, line in enumerate(lines) if line.startswith("Warning: serving on 192.0.2.1"))
    failed = next(i for i, line in enumerate(lines) if "cannot listen" in line)
    assert warned < failed and "Review workspace on" not in started.stdout


def test_coding_scales_fall_back_to_the_current_rubric_when_the_version_file_is_gone(review_world):
    coding = Coding(review_world.ws)
    with review_world.ws.session() as s:
        current = coding.rubric(s, coding.version(s))
        gone = coding.rubric(s, "0123456789abcdef")  # a lexicon edit since the scoring run
    assert gone.criteria == current.criteria and "0123456789abcdef" in coding.scale_notes["0123456789abcdef"]
    assert coding.version(s) not in coding.scale_notes


def test_open_mode_shows_brand_and_automatic_score(review_world):
    ws = review_world.ws
    ana, _ = add_reviewer(ws, "ana", "auditor")
    assign_replies(ws, ["ana"])
    coding = Coding(ws)
    rid = queue(coding, ana).next_ids[0]
    item = coding_item(coding, ana, rid, blind=False)
    assert item.brand in review_world.brands and item.auto and item.auto_total is not None
