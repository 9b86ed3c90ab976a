"""The README's commands are the ones that work: CI runs its test command, its examples run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_readme_has_the_two_setup_commands():
    blocks = _bash_blocks()
    assert blocks[0].endswith("qualibench demo") and "python3 -m venv .venv" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_exactly_the_readme_test_command():
    test_command = _bash_blocks()[1].split("&&")[-1].strip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"TEST_COMMAND='{test_command}'" in ci


def test_readme_campaign_example_runs(tmp_path):
    # The console example: init, check, plan, status, as the README shows them.
    commands = re.findall(r"^\$ (qualibench .*)$", README, re.M)
    assert commands[:4] == ["qualibench init barometre-2026 && cd barometre-2026", "qualibench check",
                            "qualibench plan", "qualibench status"]
    python = f"{sys.executable} -m qualibench "
    script = " && ".join(re.sub(r"(^|&& )qualibench ", lambda m: m.group(1) + python, c) for c in commands[:4])
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Planned 72 new probe(s)" in proc.stdout


def test_readme_library_example_runs(tmp_path):
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    subprocess.run([sys.executable, "-m", "qualibench", "init", "barometre-2026"], cwd=tmp_path, check=True,
                   capture_output=True)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "probes planned" in proc.stdout


def _shell_lines(block: str) -> list[str]:
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]


@pytest.mark.slow
@pytest.mark.timeout(900)  # two installs and a 30-brand demo: ~3 min on 2 idle cores, 7 at load 9
@pytest.mark.skipif(bool(os.environ.get("QUALIBENCH_TEST_PG")),
                    reason="the README's commands use no test database: run once, in the SQLite pass")
def test_every_readme_command_runs_in_a_fresh_virtual_environment(tmp_path):
    """The Quick start, the test command and the campaign example, as written, in a new venv.

    Two changes only: the venv sees the system's site-packages (so nothing is downloaded but the
    build backend), and apt-get, which needs root and the network, is checked, not run: each
    package it names must exist in this machine's package lists.
    """
    repo = tmp_path / "qualibench"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".hypothesis", ".pytest_cache", "qualibench-demo", "*.egg-info"))
    quick, tests = _bash_blocks()[:2]
    script: list[str] = []
    for line in _shell_lines(quick):
        if line.startswith("sudo apt-get install"):
            packages = [w for w in line.split()[3:] if not w.startswith("-")]
            # (a fresh container may have no package lists until `apt-get update`)
            if shutil.which("apt-cache") and any(Path("/var/lib/apt/lists").glob("*_Packages*")):
                known = subprocess.run(["apt-cache", "show", *packages], capture_output=True, text=True)
                assert known.returncode == 0, known.stderr
            continue
        script.append(line.replace("python3 -m venv .venv", f"{sys.executable} -m venv --system-site-packages .venv"))
    assert script[0].startswith(sys.executable) and script[-1] == "pip install -e '.[all]' && qualibench demo"
    install_tests, test_command = (part.strip() for part in _bash_blocks()[1].split("&&"))
    script.append(install_tests)
    # The suite itself cannot run inside its own test: check that the venv's pytest collects it.
    script.append(test_command + " --collect-only -p no:cacheprovider tests/test_readme.py")
    # Then the campaign example (the first console block), its `$` lines, in the same shell;
    # the later console blocks need a campaign with replies: their commands must parse (--help).
    consoles = re.findall(r"```console\n(.*?)```", README, re.S)
    script += [ln[2:] for ln in re.findall(r"^\$ .*$", consoles[0], re.M)]
    for block in consoles[1:]:
        for ln in re.findall(r"^\$ (qualibench .*)$", block, re.M):
            script.append(ln.split("#")[0].split("&&")[0].strip() + " --help > /dev/null")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QUALIBENCH_", "VIRTUAL_ENV"))}
    proc = subprocess.run(["bash", "-ec", "\n".join(script)], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (repo / ".venv" / "bin" / "qualibench").exists()
    report = repo / "qualibench-demo" / "report"
    assert list(report.glob("*.html")) and list(report.glob("*.pdf"))
    # "N days of virtual time" in the README is what the demo prints.
    simulated = re.search(r"(\d+) days simulated", proc.stdout)
    assert simulated and f"{simulated.group(1)} days of virtual time" in " ".join(README.split())
    assert "tests/test_readme.py::test_every_readme_command_runs_in_a_fresh_virtual_environment" in proc.stdout
    assert "Planned 72 new probe(s)" in proc.stdout
    assert "OK Baromètre du service client" in proc.stdout and "is not set" not in proc.stderr
