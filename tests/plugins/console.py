"""Run the installed `qualibench` console script as a user does: a real process, its exit status,
its output, its wall time and its peak memory (from wait4, so per process, not per test run)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def console_script() -> str:
    """Return the path of the `qualibench` script pip installed for this interpreter."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        path = Path(folder) / "qualibench"
        if path.exists():
            return str(path)
    found = shutil.which("qualibench")
    if found is None:  # pragma: no cover - `pip install -e .` always writes it
        raise RuntimeError("the qualibench console script is not installed: pip install -e .")
    return found


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mb: float

    @property
    def lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def run_qb(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120,
           interrupt_after: float | None = None, interrupt_when: Path | None = None) -> Run:
    """Run `qualibench ARGS` in `cwd`; optionally send SIGINT after some seconds or once a file exists.

    COLUMNS defaults to 160 so that tables do not wrap unless a test asks for a width.
    """
    full_env = {**os.environ, "COLUMNS": "160", **(env or {})}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen([console_script(), *args], cwd=cwd, env=full_env, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL)
        interrupted = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            elapsed = time.monotonic() - started
            if not interrupted and (
                (interrupt_after is not None and elapsed >= interrupt_after)
                or (interrupt_when is not None and interrupt_when.exists())
            ):
                proc.send_signal(signal.SIGINT)
                interrupted = True
            if elapsed > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                raise AssertionError(f"qualibench {' '.join(args)} still running after {timeout} s")
            time.sleep(0.02)
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Run(proc.returncode, out.read().decode("utf-8", "replace"),
                   err.read().decode("utf-8", "replace"), seconds, usage.ru_maxrss / 1024)
