"""What a shell user meets: --version, completion scripts that complete, help a person can read."""

from __future__ import annotations

import re

import pytest

from qualibench import __version__
from tests.plugins.console import run_qb


def test_version(tmp_path):
    run = run_qb("--version", cwd=tmp_path)
    assert run.returncode == 0 and run.stdout == f"qualibench {__version__}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o default -F _qualibench_completion qualibench"),
                                           ("zsh", "#compdef qualibench"),
                                           ("fish", "complete --command qualibench")])
def test_completion_script_for(shell, marker, tmp_path):
    run = run_qb("completion", shell, cwd=tmp_path)
    assert run.returncode == 0 and marker in run.stdout
    assert "_QUALIBENCH_COMPLETE" in run.stdout


def test_unknown_shell_is_a_one_line_error(tmp_path):
    run = run_qb("completion", "ksh", cwd=tmp_path)
    assert run.returncode == 1
    assert run.lines == ["Error: no completion for shell 'ksh'", "Hint: use bash, zsh or fish"]


def test_completion_completes_commands_and_options(tmp_path):
    # What the bash script asks the program: the words so far, the word being completed.
    run = run_qb(cwd=tmp_path, env={"_QUALIBENCH_COMPLETE": "complete_bash",
                                    "COMP_WORDS": "qualibench sta", "COMP_CWORD": "1"})
    assert run.returncode == 0 and run.stdout.split() == ["status"]
    run = run_qb(cwd=tmp_path, env={"_QUALIBENCH_COMPLETE": "complete_bash",
                                    "COMP_WORDS": "qualibench send --dry", "COMP_CWORD": "2"})
    assert run.stdout.split() == ["--dry-run"]
    run = run_qb(cwd=tmp_path, env={"_QUALIBENCH_COMPLETE": "complete_fish",
                                    "_TYPER_COMPLETE_ARGS": "qualibench che",
                                    "_TYPER_COMPLETE_FISH_ACTION": "get-args"})
    assert run.returncode == 0 and run.stdout.startswith("check")


@pytest.mark.parametrize("args", [["--help"], ["send", "--help"], ["status", "--help"],
                                  ["check", "--help"], ["demo", "--help"]])
def test_help_shows_no_bool_type_on_flags(args, tmp_path):
    run = run_qb(*args, cwd=tmp_path, env={"COLUMNS": "80"})
    assert run.returncode == 0
    assert "<bool>" not in run.stdout
    assert re.search(r"--(help|json|dry-run|traceback)\b", run.stdout)
    assert max(len(line) for line in run.stdout.splitlines()) <= 80
