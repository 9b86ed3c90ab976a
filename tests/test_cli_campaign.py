"""The campaign commands as an analyst runs them: a real `qualibench` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def qb(*args: str, cwd: Path, db_url: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="160")
    if db_url:
        env["QUALIBENCH_DB_URL"] = db_url
    proc = subprocess.run([sys.executable, "-m", "qualibench", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"qualibench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_init_check_plan_status(tmp_path, db_url):
    qb("init", "demo-campaign", cwd=tmp_path)
    camp = tmp_path / "demo-campaign"
    assert "OK" in qb("check", cwd=camp).stdout
    out = qb("plan", "--json", cwd=camp, db_url=db_url).stdout
    planned = json.loads(out)
    assert planned["created"] > 0
    status = json.loads(qb("status", "--json", cwd=camp, db_url=db_url).stdout)
    assert status["totals"]["planned"] == planned["created"] == status["totals"]["total"]
    table = qb("status", "--brands", cwd=camp, db_url=db_url).stdout
    assert "email" in table and "Maison Lumière" in table
    again = json.loads(qb("plan", "--json", cwd=camp, db_url=db_url).stdout)
    assert again == {**again, "created": 0, "existing": planned["created"]}


def test_broken_brands_file_gives_one_line_per_problem(tmp_path):
    qb("init", "c", cwd=tmp_path)
    camp = tmp_path / "c"
    (camp / "brands.csv").write_text(
        "name,sector,timezone,email\nAcme,retail,Mars/Olympus,acme@\nAcme,retail,Europe/Paris,a@acme.example\n")
    proc = qb("check", cwd=camp, check=False)
    assert proc.returncode == 3
    lines = proc.stderr.strip().splitlines()
    assert any("row 2, timezone: unknown timezone 'Mars/Olympus'" in ln for ln in lines)
    assert any("row 2, email: 'acme@' is not an e-mail address" in ln for ln in lines)
    assert any("row 3, name: duplicate brand 'Acme' (already on row 2)" in ln for ln in lines)
    assert lines[-2].startswith("Error: 3 problems") and lines[-1].startswith("Hint:")
    assert "Traceback" not in proc.stderr


def test_errors_have_no_traceback_unless_asked(tmp_path):
    proc = qb("status", cwd=tmp_path, check=False)
    assert proc.returncode == 4
    assert "no campaign here" in proc.stderr and "Hint:" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = qb("--traceback", "status", cwd=tmp_path, check=False)
    assert "Traceback" in proc.stderr


def test_config_show_redacts_secrets(tmp_path, db_url):
    qb("init", "c", cwd=tmp_path)
    env_value = "s3cr3t-value-never-shown"
    os.environ["QB_SHOPPER_PASSWORD"] = env_value
    try:
        out = qb("config", "show", "--json", cwd=tmp_path / "c", db_url=db_url).stdout
    finally:
        del os.environ["QB_SHOPPER_PASSWORD"]
    data = json.loads(out)
    assert env_value not in out
    assert data["accounts"]["shopper"]["password_env"].startswith("QB_SHOPPER_PASSWORD (set")


def test_database_url_password_is_hidden(tmp_path):
    qb("init", "c", cwd=tmp_path)
    out = qb("config", "show", "--json", cwd=tmp_path / "c",
             db_url="postgresql://qb:pa55word@127.0.0.1:1/x").stdout
    assert "pa55word" not in out and "***" in out


@pytest.mark.parametrize("command", ["init", "check", "plan", "status", "config", "verify"])
def test_every_command_has_help(tmp_path, command):
    out = qb(command, "--help", cwd=tmp_path).stdout
    assert "Usage" in out and len(out.splitlines()) > 3


def test_usage_errors_exit_2_without_traceback(tmp_path):
    proc = qb("status", "--no-such-option", cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "No such option: --no-such-option" in proc.stderr and "Traceback" not in proc.stderr
    proc = qb("no-such-command", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "No such command" in proc.stderr
