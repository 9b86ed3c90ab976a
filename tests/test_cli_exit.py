"""Exit statuses as scripts see them: every ExitStatus value from the installed console script.

The runner (CliRunner) hid that `main()` dropped the code typer returns with
standalone_mode=False, so these run `qualibench` as a real process.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from qualibench.errors import ExitStatus
from tests.plugins.console import run_qb


def _init(tmp_path: Path, name: str = "c") -> Path:
    assert run_qb("init", name, cwd=tmp_path).returncode == 0
    return tmp_path / name


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def case_ok(tmp_path, db_url, sent_campaign):
    run = run_qb("--version", cwd=tmp_path)
    assert run.stdout.startswith("qualibench ")
    return run


def case_error(tmp_path, db_url, sent_campaign):
    run = run_qb("demo", "--lang", "xx", "--out", str(tmp_path / "d"), cwd=tmp_path)
    assert run.lines == ["Error: language 'xx' is not available", "Hint: use --lang fr or --lang en"]
    return run


def case_usage(tmp_path, db_url, sent_campaign):
    run = run_qb("status", "--no-such-option", cwd=tmp_path)
    assert "No such option: --no-such-option" in run.stderr
    return run


def case_invalid_input(tmp_path, db_url, sent_campaign):
    camp = _init(tmp_path)
    (camp / "brands.csv").write_text("name,sector,timezone,email\nAcme,retail,Mars/Olympus,a@acme.example\n")
    run = run_qb("check", "--json", cwd=camp)  # the reported bug: --json exited 0
    assert '"ok": false' in run.stdout
    plain = run_qb("check", cwd=camp)
    assert plain.returncode == run.returncode
    return run


def case_not_found(tmp_path, db_url, sent_campaign):
    ws, _ = sent_campaign()
    run = run_qb("--db", db_url, "score", "explain", "999999", cwd=ws.root)
    assert run.lines[0] == "Error: reply 999999 is not in this campaign"
    return run


def case_dependency_missing(tmp_path, db_url, sent_campaign):
    ws, _ = sent_campaign()
    # This install has pyarrow; a package that fails to import stands for an install without it.
    hidden = tmp_path / "hide"
    (hidden / "pyarrow").mkdir(parents=True)
    (hidden / "pyarrow" / "__init__.py").write_text("raise ImportError('not installed')\n")
    run = run_qb("--db", db_url, "export", "--format", "parquet", "--out", str(tmp_path / "x"),
                 cwd=ws.root, env={"PYTHONPATH": str(hidden)})
    assert "pip install 'qualibench[parquet]'" in run.stderr
    return run


def case_remote_failure(tmp_path, db_url, sent_campaign):
    ws, _ = sent_campaign(port=_closed_port())
    run = run_qb("--db", db_url, "collect", cwd=ws.root)
    assert "cannot reach the IMAP server 127.0.0.1" in run.stderr
    return run


def case_interrupted(tmp_path, db_url, sent_campaign):
    out = tmp_path / "demo"
    run = run_qb("--db", db_url, "demo", "-n", "3", "--out", str(out), cwd=tmp_path,
                 interrupt_when=out / "campaign.toml", timeout=180)
    assert run.lines == [f"Error: interrupted: rerun `qualibench --db {db_url} demo -n 3 --out {out}` "
                         "to run the demo again from the start"]
    return run


CASES = {
    ExitStatus.OK: case_ok,
    ExitStatus.ERROR: case_error,
    ExitStatus.USAGE: case_usage,
    ExitStatus.INVALID_INPUT: case_invalid_input,
    ExitStatus.NOT_FOUND: case_not_found,
    ExitStatus.DEPENDENCY_MISSING: case_dependency_missing,
    ExitStatus.REMOTE_FAILURE: case_remote_failure,
    ExitStatus.INTERRUPTED: case_interrupted,
}


def test_every_exit_status_has_a_case():
    assert set(CASES) == set(ExitStatus)


@pytest.mark.parametrize("status", list(ExitStatus), ids=lambda s: s.name.lower())
def test_console_script_exits_with(status, tmp_path, db_url, sent_campaign):
    run = CASES[status](tmp_path, db_url, sent_campaign)
    assert run.returncode == int(status), (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr


def test_interrupted_send_names_the_command_to_resume():
    from qualibench.cli import interrupted_line

    line = interrupted_line(["-C", "demo", "send", "--limit", "5"])
    assert line.startswith("interrupted: rerun `qualibench -C demo send --limit 5` to resume")
