"""Auditors' workflow: XLSX round trip, rejected sheets import nothing, overrides, agreement."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from qualibench.errors import InvalidInput, QualibenchError
from qualibench.models import Score
from qualibench.scorer import effective_scores
from qualibench.scorer.agreement import (
    agreement_report,
    krippendorff_alpha_interval,
    quadratic_kappa,
)
from qualibench.scorer.audit import export_audit_sheet, import_audit_sheet, set_override
from qualibench.scorer.campaign import score_campaign
from qualibench.scorer.rubric import load_rubric

CRITERIA = ("relevance", "reformulation", "empathy", "personalisation", "politeness")


def _columns(sheet):
    return {c.value: c.column for c in sheet[1]}


def _fill(path, rows: dict[int, dict[str, float]], why="checked by hand", edit=None):
    """Write scores into an exported sheet: {sheet row number: {criterion: points}}."""
    wb = load_workbook(path)
    sheet = wb["audit"]
    cols = _columns(sheet)
    rubric = load_rubric()
    for row, points in rows.items():
        for crit, value in points.items():
            sheet.cell(row=row, column=cols[f"score:{crit} (0-{rubric.weight(crit):g})"], value=value)
        sheet.cell(row=row, column=cols["justification"], value=why)
    if edit:
        row, column, value = edit
        sheet.cell(row=row, column=cols[column], value=value)
    wb.save(path)


def _full(points: float) -> dict[str, float]:
    rubric = load_rubric()
    return {c: min(points, rubric.weight(c)) for c in CRITERIA}


def test_export_blind_hides_auto_scores_and_protects_read_only_columns(replied_campaign, tmp_path):
    ws, ids = replied_campaign
    score_campaign(ws)
    blind, full = tmp_path / "blind.xlsx", tmp_path / "full.xlsx"
    assert export_audit_sheet(ws, blind, blind=True) == len(ids["answers"])
    export_audit_sheet(ws, full, blind=False)
    b, f = load_workbook(blind)["audit"], load_workbook(full)["audit"]
    assert not any(str(h).startswith("auto_") for h in _columns(b))
    assert {"auto_total", "auto_evidence", "auto_relevance"} <= set(_columns(f))
    assert b.protection.sheet
    assert b.cell(row=2, column=_columns(b)["reply"]).protection.locked
    assert not b.cell(row=2, column=_columns(b)["justification"]).protection.locked
    exported_ids = {b.cell(row=r, column=1).value for r in range(2, b.max_row + 1)}
    assert exported_ids == set(ids["answers"])  # acknowledgements and bounces are not audited


def test_import_records_filled_rows_as_auditor_scores(replied_campaign, tmp_path):
    ws, ids = replied_campaign
    score_campaign(ws)
    path = tmp_path / "sheet.xlsx"
    export_audit_sheet(ws, path, blind=True)
    _fill(path, {2: _full(5), 3: _full(8)}, why="too generic")
    report = import_audit_sheet(ws, path, "ana")
    assert report.recorded == 2 and report.left_empty == len(ids["answers"]) - 2
    with ws.session() as s:
        rows = s.exec(select(Score).where(Score.scorer == "auditor:ana")).all()
        assert {r.reply_id for r in rows} == set(ids["answers"][:2])
        assert all(r.justification == "too generic" and r.rubric_version == load_rubric().version for r in rows)
        eff = effective_scores(s, ws.campaign(s).id)
        assert eff[ids["answers"][0]].source == "auditor:ana"
        assert eff[ids["answers"][0]].total == sum(_full(5).values())


@pytest.mark.parametrize("case", ["unknown_id", "out_of_range", "edited_reply", "partial_row", "not_a_number"])
def test_a_bad_sheet_is_rejected_whole_with_row_and_fix(replied_campaign, tmp_path, case):
    ws, ids = replied_campaign
    score_campaign(ws)
    path = tmp_path / "sheet.xlsx"
    export_audit_sheet(ws, path, blind=True)
    good = {2: _full(5)}  # a valid row that must NOT be imported either
    bad_row = 3
    edit = None
    if case == "unknown_id":
        edit = (bad_row, "reply_id", 99999)
        good[bad_row] = _full(5)
    elif case == "out_of_range":
        good[bad_row] = {**_full(5), "politeness": 11}
    elif case == "edited_reply":
        edit = (bad_row, "reply", "a friendlier text")
        good[bad_row] = _full(5)
    elif case == "partial_row":
        good[bad_row] = {"relevance": 20}
    elif case == "not_a_number":
        good[bad_row] = {**_full(5), "empathy": "lots"}
    _fill(path, good, edit=edit)
    with pytest.raises(InvalidInput) as err:
        import_audit_sheet(ws, path, "ana")
    lines = [p.line() for p in err.value.problems]
    assert lines and all("row 3" in line and "fix:" in line for line in lines), lines
    assert "nothing was imported" in err.value.message
    with ws.session() as s:
        assert s.exec(select(Score).where(Score.scorer == "auditor:ana")).first() is None


def test_import_without_auditor_is_refused(replied_campaign, tmp_path):
    ws, _ = replied_campaign
    score_campaign(ws)
    path = tmp_path / "sheet.xlsx"
    export_audit_sheet(ws, path, blind=True)
    with pytest.raises(QualibenchError) as err:
        import_audit_sheet(ws, path, "")
    assert "--auditor" in err.value.hint


def test_set_override_changes_one_criterion_and_keeps_the_rest(replied_campaign):
    ws, ids = replied_campaign
    score_campaign(ws)
    rid = ids["answers"][0]
    with ws.session() as s:
        auto = s.exec(select(Score).where(Score.reply_id == rid)).one()
        auto_criteria = dict(auto.criteria)
    row = set_override(ws, rid, {"empathy": 15}, "ana", "the apology is sincere")
    assert row.criteria["empathy"] == 15
    assert {k: v for k, v in row.criteria.items() if k != "empathy"} == {
        k: v for k, v in auto_criteria.items() if k != "empathy"}
    with ws.session() as s:
        eff = effective_scores(s, ws.campaign(s).id)[rid]
        assert eff.source == "auditor:ana" and eff.total == pytest.approx(row.total)
        assert s.exec(select(Score).where(Score.reply_id == rid)).all()[0].scorer == "auto"  # kept
    with pytest.raises(QualibenchError):
        set_override(ws, rid, {"empathy": 25}, "ana", "too many")
    with pytest.raises(QualibenchError):
        set_override(ws, rid, {"empathy": 5}, "ana", "")


def _matrix_quadratic_kappa(x, y):
    """Textbook weighted kappa: confusion matrix over the observed categories, quadratic weights."""
    cats = sorted(set(x) | set(y))
    k, n = len(cats), len(x)
    idx = {c: i for i, c in enumerate(cats)}
    obs = [[0.0] * k for _ in range(k)]
    for a, b in zip(x, y, strict=True):
        obs[idx[a]][idx[b]] += 1 / n
    row = [sum(obs[i]) for i in range(k)]
    col = [sum(obs[i][j] for i in range(k)) for j in range(k)]
    w = [[(cats[i] - cats[j]) ** 2 for j in range(k)] for i in range(k)]
    num = sum(w[i][j] * obs[i][j] for i in range(k) for j in range(k))
    den = sum(w[i][j] * row[i] * col[j] for i in range(k) for j in range(k))
    return 1 - num / den


def test_agreement_statistics_match_their_definitions():
    x = [0, 5, 10, 10, 15, 20, 20, 5]
    y = [0, 10, 10, 15, 15, 20, 10, 5]
    assert quadratic_kappa(x, y) == pytest.approx(_matrix_quadratic_kappa(x, y))
    assert quadratic_kappa(x, x) == 1.0
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability": interval alpha = 0.849.
    coders = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
              [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
              [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
              [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
    units = [[v for v in unit if v is not None] for unit in zip(*coders, strict=True)]
    assert krippendorff_alpha_interval(units) == pytest.approx(0.849, abs=0.001)


def test_agreement_report_compares_auditors_and_auto(replied_campaign):
    ws, ids = replied_campaign
    score_campaign(ws)
    for n, rid in enumerate(ids["answers"][:6]):
        set_override(ws, rid, {"relevance": 5 * n}, "ana", "coded")
        set_override(ws, rid, {"relevance": 5 * n + (20 if n == 2 else 0)}, "ben", "coded")
    report = agreement_report(ws, top=50)
    assert report.scorers == ["auto", "auditor:ana", "auditor:ben"]
    pair = next(p for p in report.pairs if {p.first, p.second} == {"auditor:ana", "auditor:ben"}
                and p.criterion == "relevance")
    assert pair.replies == 6 and pair.kappa is not None and pair.kappa < 1
    assert report.gaps == sorted(report.gaps, key=lambda g: -g.size)
    top = next(g for g in report.gaps if {g.first, g.second} == {"auditor:ana", "auditor:ben"})
    assert top.reply_id == ids["answers"][2] and top.criterion == "relevance" and top.size >= 20
    assert "relevance" in report.auditors_alpha


def test_a_reply_that_looks_like_a_formula_stays_text(replied_campaign, tmp_path):
    ws, ids = replied_campaign
    from qualibench.models import Reply

    with ws.session() as s:
        reply = s.get(Reply, ids["answers"][0])
        reply.text = '=HYPERLINK("http://evil.example","click")'
        s.add(reply)
    score_campaign(ws)
    path = tmp_path / "sheet.xlsx"
    export_audit_sheet(ws, path, blind=True)
    sheet = load_workbook(path)["audit"]
    cell = sheet.cell(row=2, column=_columns(sheet)["reply"])
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    _fill(path, {2: _full(3)})
    assert import_audit_sheet(ws, path, "ana").recorded == 1  # the text still matches the database
