"""Running `qualibench demo` again removes what the demo wrote, and refuses to touch anything else."""

from __future__ import annotations

import json

import pytest

from qualibench.demo_folder import MARKER, TRANSIENT, prepare_demo_folder
from qualibench.errors import QualibenchError
from tests.plugins.console import run_qb


def _tree(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_demo_rerun_removes_only_its_own_files(tmp_path):
    out = tmp_path / "d"
    first = run_qb("demo", "-n", "1", "--out", str(out), "--json", cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["folder"] == str(out)
    written = _tree(out) - set(TRANSIENT)  # SQLite's side files and the run locks come and go
    listed = {ln[2:] for ln in (out / MARKER).read_text().splitlines() if ln.startswith("- ")}
    assert listed == written - {MARKER} and "campaign.toml" in listed

    # A file of the user's inside the demo's folder: the rerun deletes nothing and says why.
    (out / "report" / "my-notes.txt").write_text("mine")
    again = run_qb("demo", "-n", "1", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 1
    assert again.lines == [f"Error: {out} holds files the demo did not write (report/my-notes.txt); "
                           "nothing was deleted",
                           "Hint: move them out of the folder, or choose another folder with --out"]
    assert _tree(out) >= written | {"report/my-notes.txt"}

    # Without it, what the demo listed goes, and only that.
    (out / "report" / "my-notes.txt").unlink()
    prepare_demo_folder(out)
    assert _tree(out) == {MARKER}


def test_an_interrupted_demo_leaves_only_its_entries_removable(tmp_path):
    out = tmp_path / "d"
    prepare_demo_folder(out)  # a run starts, then is interrupted before it lists its files
    (out / "campaign.toml").write_text("[campaign]\n")
    (out / "evidence" / "ab").mkdir(parents=True)
    (out / "evidence" / "ab" / "cdef").write_bytes(b"raw")
    (out / "thesis.docx").write_bytes(b"not the demo's")
    with pytest.raises(QualibenchError, match=r"did not write \(thesis.docx\)"):
        prepare_demo_folder(out)
    assert (out / "evidence" / "ab" / "cdef").exists()
    (out / "thesis.docx").unlink()
    prepare_demo_folder(out)
    assert _tree(out) == {MARKER} and not (out / "evidence").exists()


def test_a_folder_without_marker_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    run = run_qb("demo", "-n", "1", "--out", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 1 and "was not written by `qualibench demo`" in run.lines[0]
    assert _tree(tmp_path) == {"notes.txt"}
