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
