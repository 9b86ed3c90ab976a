"""A zip bomb given to `qualibench audit import` (issue #13): the auditors' workbook is a file
from outside like brands.xlsx, and gets the same bounds, refused fast with one line."""

from __future__ import annotations

from qualibench.campaign.limits import XLSX_UNZIPPED_BYTES
from tests.hostile.conftest import run_qualibench
from tests.hostile.test_cli_hostile import _campaign, _xlsx_bomb


def test_an_xlsx_zip_bomb_is_refused_by_audit_import_with_one_line(tmp_path):
    camp = _campaign(tmp_path)
    assert run_qualibench("plan", cwd=camp).returncode == 0
    bomb = tmp_path / "audit.xlsx"
    _xlsx_bomb(bomb)
    assert bomb.stat().st_size < 5 * 1024 * 1024
    run = run_qualibench("audit", "import", str(bomb), "--auditor", "alice", cwd=camp,
                         memory_cap_mb=1500, timeout=120)
    assert not run.killed and run.returncode == 3, run.stderr
    [line] = [ln for ln in run.err_lines if ln.startswith(str(bomb))]
    assert f"over the {XLSX_UNZIPPED_BYTES // 2**20} MB limit" in line
    assert run.err_lines[-2].startswith("Error: audit.xlsx is refused; nothing was imported")
    assert "Traceback" not in run.stderr
    assert run.peak_mb < 400, run.peak_mb


HOSTILE_CELLS = ["=HYPERLINK(\"http://evil.test\")\x1b[2J bonjour", "+cmd\x07 merci", "-2+3\x0b\ufffe réponse",
                 "@SUM(1)\x01 fin", "\t=1+1 tab", "\r=1+1 retour", "plain \x1b]0;owned\x07 text"]


def test_the_auditors_sheet_and_the_xlsx_export_write_a_hostile_cell_the_same_way(review_world, tmp_path):
    # One rule for one thing: `audit export` (both sheets) and `export --format xlsx` hold the
    # same hostile reply text identically -- control characters spelt out, leading = + - @ tab
    # CR kept as text, never a formula -- and the CSV export gives the exact original back.
    import csv

    from openpyxl import load_workbook
    from sqlmodel import select

    from qualibench.models import Reply
    from qualibench.spreadsheet import restore, xlsx_text
    from tests.plugins.review import qb

    ws = review_world.ws
    with ws.session() as s:
        replies = s.exec(select(Reply).where(Reply.id.in_(review_world.answers)).order_by(Reply.id)).all()
        for reply, text in zip(replies, HOSTILE_CELLS, strict=False):
            reply.text = text
            s.add(reply)
        wanted = {r.id: t for r, t in zip(replies, HOSTILE_CELLS, strict=False)}
    assert len(wanted) == len(HOSTILE_CELLS)
    for args in (("audit", "export", "--out", str(tmp_path / "audit.xlsx")),
                 ("audit", "export", "--blind", "--out", str(tmp_path / "blind.xlsx")),
                 ("export", "--format", "xlsx", "--out", str(tmp_path / "x")),
                 ("export", "--format", "csv", "--out", str(tmp_path / "c"))):
        qb(review_world, *args)

    def cells(path, sheet, id_col, text_col):
        book = load_workbook(path)[sheet]
        header = [c.value for c in book[1]]
        out = {}
        for row in book.iter_rows(min_row=2):
            cell = row[header.index(text_col)]
            assert all(c.data_type != "f" for c in row), f"{path.name}: formula in row {row[0].row}"
            if row[header.index(id_col)].value is not None:
                out[int(row[header.index(id_col)].value)] = cell.value
        return out

    audit = cells(tmp_path / "audit.xlsx", "audit", "reply_id", "reply")
    blind = cells(tmp_path / "blind.xlsx", "audit", "reply_id", "reply")
    export = cells(tmp_path / "x" / "qualibench.xlsx", "tests", "first_answer_reply_id", "answer_text")
    for rid, text in wanted.items():
        assert audit[rid] == blind[rid] == export[rid] == xlsx_text(text), (rid, audit[rid], export[rid])
        assert not any(ch in audit[rid] for ch in "\x01\x07\x0b\x1b\ufffe")
    assert audit[min(wanted)].startswith("=HYPERLINK(") and "\\x1b[2J" in audit[min(wanted)]
    assert any(v.startswith("\t=1+1") for v in audit.values()) and any(v.startswith("\r=1+1") for v in audit.values())
    with (tmp_path / "c" / "tests.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    from_csv = {int(r["first_answer_reply_id"]): restore(r["answer_text"]) for r in rows if r["first_answer_reply_id"]}
    assert all(from_csv[rid] == text for rid, text in wanted.items())  # CSV: the exact original
