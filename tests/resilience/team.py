"""A team of "machines" for the resilience tests: one campaign, several folders, one PostgreSQL.

Each machine is a campaign folder of its own (its own path, no file shared with the others)
holding copies of the same campaign files, and runs the installed `qualibench` console script
as a separate process, as analysts on their own laptops would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from qualibench.campaign.init import init_campaign


def console_script() -> str:
    exe = Path(sys.executable).with_name("qualibench")
    return str(exe) if exe.exists() else shutil.which("qualibench") or "qualibench"


def make_team(tmp_path: Path, machines: int, *, brands: int, scenarios: int, mail: dict,
              start, seed: int = 5, channels: tuple[str, ...] = ("email",)) -> list[Path]:  # type: ignore[no-untyped-def]
    """Write the campaign once, then give each machine its own folder with copies of the files."""
    first = tmp_path / "machine-a"
    init_campaign(first, brands=brands, channels=channels, scenarios=scenarios, seed=seed,
                  start=start, mail=mail, per_domain_seconds=0, force=True)
    toml = first / "campaign.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('days = "mon-fri"\nhours = ["09:00-12:00", "14:00-17:00"]',
                        'days = "mon-sun"\nhours = ["00:00-24:00"]')
    text = text.replace("per_account_per_hour = 60", "per_account_per_hour = 1000000")
    toml.write_text(text, encoding="utf-8")
    folders = [first]
    for i in range(1, machines):
        other = tmp_path / f"machine-{chr(ord('a') + i)}"
        other.mkdir()
        for src in first.iterdir():  # campaign files only: nothing has run yet
            name = src.name
            if src.is_dir():
                shutil.copytree(src, other / name)
            else:
                shutil.copy2(src, other / name)
        folders.append(other)
    return folders


class Machine:
    """One machine of the team: a folder and the `qualibench` processes it runs."""

    def __init__(self, folder: Path, db_url: str, env: dict[str, str]) -> None:
        self.folder = folder
        self.db_url = db_url
        self.env = env

    def argv(self, *args: str) -> list[str]:
        return [console_script(), "-C", str(self.folder), "--db", self.db_url, *args]

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True,
                              timeout=timeout)


def team_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIBENCH_")}
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def kill9(proc: subprocess.Popen) -> bool:
    """kill -9 `proc` if it still runs; return whether it was killed in flight."""
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True
