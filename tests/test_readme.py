"""The README's commands are the ones that work: CI runs its test command, its examples run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, re.S)]


def test_readme_has_the_two_setup_commands():
    blocks = _bash_blocks()
    assert blocks[0].endswith("qualibench demo")
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
