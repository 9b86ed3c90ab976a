"""A newcomer's first commands in a folder that holds no campaign: one clear line, nothing created."""

from __future__ import annotations

import pytest
import typer

from qualibench.cli import app, run
from tests.plugins.console import run_qb

NO_CAMPAIGN = "Error: no campaign here: this folder has no campaign.toml"
HINT = "Hint: create one with `qualibench init NAME` (or `qualibench demo`), or point at one with --campaign DIR"

# Commands that need no campaign folder, or that report the missing file themselves.
EXEMPT = {"init", "demo", "check", "completion", "score text", "config show"}

# Through the console script: the commands of the README's table (all of them below in-process).
COMMANDS = [
    ["plan"], ["status"], ["send", "--dry-run"], ["collect"], ["inbox"], ["score"], ["score", "explain", "1"],
    ["rescore", "--rubric", "default"],
    ["report"], ["awards"], ["verify"], ["assist", "next"], ["audit", "agreement"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_command_outside_a_campaign_says_so_and_creates_nothing(args, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    result = run_qb(*args, cwd=folder)
    assert result.returncode == 4, (result.stdout, result.stderr)
    assert result.lines == [NO_CAMPAIGN, HINT]
    assert result.stdout == ""  # not even a blank line before the error
    assert list(folder.iterdir()) == []


def test_check_and_config_show_name_the_missing_file_and_create_nothing(tmp_path):
    for args in (["check"], ["check", "--json"], ["config", "show"]):
        result = run_qb(*args, cwd=tmp_path)
        assert result.returncode == 3
        assert "no campaign.toml in this folder" in result.stdout + result.stderr
        assert "qualibench init" in result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_named_folder_that_does_not_exist(tmp_path):
    result = run_qb("-C", str(tmp_path / "nowhere"), "status", cwd=tmp_path)
    assert result.returncode == 4
    assert result.lines[0] == f"Error: no campaign here: {tmp_path / 'nowhere'} (it does not exist) has no campaign.toml"
    assert list(tmp_path.iterdir()) == []


def _leaf_commands(group, path=()):
    for name, sub in getattr(group, "commands", {}).items():
        if getattr(sub, "commands", None):
            yield from _leaf_commands(sub, (*path, name))
        else:
            yield (*path, name), sub


def _dummy_args(command) -> list[str]:
    args: list[str] = []
    for p in command.params:
        if not p.required:
            continue
        value = "1" if "int" in str(getattr(p, "type", "")).lower() else "x"
        args += [value] if p.param_type_name == "argument" else [p.opts[0], value]
    return args


def test_no_command_writes_into_a_folder_without_campaign(tmp_path, monkeypatch, capsys):
    # Every command there is, today's and tomorrow's, with placeholder arguments.
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for path, command in _leaf_commands(typer.main.get_command(app)):
        if " ".join(path) in EXEMPT:
            continue
        code = run([*path, *_dummy_args(command)])
        out = capsys.readouterr()
        assert code in (2, 4), (path, code, out.err)  # 2: a placeholder its options refuse
        assert list(folder.iterdir()) == [], path
