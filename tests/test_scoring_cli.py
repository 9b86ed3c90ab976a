"""`qualibench score`, `score explain`, `score text`, `rescore` and `audit` run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from openpyxl import load_workbook

from tests.plugins.scoring import POLITENESS_ONLY_RUBRIC

SCENARIOS = Path(__file__).parent / "fixtures" / "scoring" / "scenarios"


def qb(*args: str, cwd: Path, db_url: str, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="160", QUALIBENCH_DB_URL=db_url)
    proc = subprocess.run([sys.executable, "-m", "qualibench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"qualibench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_score_text_without_a_campaign(tmp_path, db_url):
    reply = tmp_path / "reply.txt"
    reply.write_text("Bonjour Madame Martin,\nVotre colis CMD-482913 a été expédié, livraison prévue demain. "
                     "Toutes nos excuses.\nCordialement,\nJulien", encoding="utf-8")
    out = qb("score", "text", "--scenario", str(SCENARIOS / "fr-delivery-late.yaml"), "--reply", str(reply),
             "--persona", "Claire Martin", "--fill", "order_number=CMD-482913", "--json", cwd=tmp_path, db_url=db_url)
    data = json.loads(out.stdout)
    assert set(data["criteria"]) == {"relevance", "reformulation", "empathy", "personalisation", "politeness"}
    assert data["total"] == round(sum(data["criteria"].values()), 2) and data["total"] > 40
    assert data["language"] == "fr" and data["evidence"]["relevance"]
    table = qb("score", "text", "--scenario", str(SCENARIOS / "fr-delivery-late.yaml"), "--reply", str(reply),
               cwd=tmp_path, db_url=db_url).stdout
    assert "relevance" in table and "total" in table


def test_score_text_reports_a_bad_rubric_without_traceback(tmp_path, db_url):
    reply = tmp_path / "r.txt"
    reply.write_text("Bonjour")
    bad = tmp_path / "bad.yaml"
    bad.write_text("criteria:\n  relevance: {weight: 60}\n  empathy: {weight: 20}\n")
    proc = qb("score", "text", "--scenario", str(SCENARIOS / "fr-delivery-late.yaml"), "--reply", str(reply),
              "--rubric", str(bad), cwd=tmp_path, db_url=db_url, check=False)
    assert proc.returncode != 0
    assert "Error:" in proc.stderr and "sum to 80" in proc.stderr and "Hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_score_explain_rescore_and_audit_round_trip(replied_campaign, tmp_path, db_url):
    ws, ids = replied_campaign
    camp = ws.root
    first = json.loads(qb("score", "--json", cwd=camp, db_url=db_url).stdout)
    assert first["scored"] == len(ids["answers"]) and first["not_scored_kinds"]["bounce"] == 1
    assert json.loads(qb("score", "--json", cwd=camp, db_url=db_url).stdout)["scored"] == 0

    explained = json.loads(qb("score", "explain", str(ids["answers"][0]), "--json", cwd=camp, db_url=db_url).stdout)
    assert explained["auto"]["total"] == sum(explained["auto"]["criteria"].values())
    shown = qb("score", "explain", str(ids["answers"][0]), cwd=camp, db_url=db_url).stdout
    assert "relevance" in shown and "total" in shown

    rubric = tmp_path / "politeness.yaml"
    rubric.write_text(POLITENESS_ONLY_RUBRIC)
    moved = json.loads(qb("rescore", "--rubric", str(rubric), "--diff", "--json", cwd=camp, db_url=db_url).stdout)
    assert moved["scored"] == len(ids["answers"]) and moved["moves"]
    assert moved["old_version"] != moved["new_version"]

    sheet = tmp_path / "audit.xlsx"
    qb("audit", "export", "--blind", "--out", str(sheet), cwd=camp, db_url=db_url)
    wb = load_workbook(sheet)
    ws_sheet = wb["audit"]
    cols = {c.value: c.column for c in ws_sheet[1]}
    ws_sheet.cell(row=2, column=cols["score:politeness (0-100)"], value=42)
    ws_sheet.cell(row=2, column=cols["justification"], value="curt")
    wb.save(sheet)
    imported = json.loads(qb("audit", "import", str(sheet), "--auditor", "ana", "--json", cwd=camp, db_url=db_url).stdout)
    assert imported["recorded"] == 1

    ws_sheet.cell(row=3, column=cols["score:politeness (0-100)"], value=140)
    wb.save(sheet)
    bad = qb("audit", "import", str(sheet), "--auditor", "ben", cwd=camp, db_url=db_url, check=False)
    assert bad.returncode != 0 and "row 3" in bad.stderr and "nothing was imported" in bad.stderr

    qb("audit", "set", str(ids["answers"][1]), "--criterion", "politeness=80", "--auditor", "ben",
       "--why", "greets and thanks", cwd=camp, db_url=db_url)
    qb("audit", "set", str(ids["answers"][0]), "--criterion", "politeness=90", "--auditor", "ben",
       "--why", "warm enough", cwd=camp, db_url=db_url)
    agreement = json.loads(qb("audit", "agreement", "--json", cwd=camp, db_url=db_url).stdout)
    assert "auditor:ana" in agreement["scorers"] and "auditor:ben" in agreement["scorers"]
    assert any(g["gap"] == 48 for g in agreement["gaps"])  # ana 42 vs ben 90 on reply 1
    assert "kappa" in qb("audit", "agreement", cwd=camp, db_url=db_url).stdout
