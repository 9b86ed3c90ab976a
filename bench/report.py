"""Benchmark: what a consultant waits for, on a synthetic finished campaign of 500 brands x 4 channels x 3 scenarios.

Each output is the whole `qualibench report` command, run through the installed console script
in a subprocess as a user runs it (start-up, imports, analytics, rendering, printing), compared
with the report issue's (#11) targets: HTML < 2 s, the full PDF < 45 s, the per-brand PDFs of
every brand < 120 s. The command's own `--timings` line gives the split (analytics = figures and
trophies, html = rendering, pdf = printing, per_brand); "start-up and the rest" is what the
command's wall time holds besides (interpreter, imports, writing files).

Wall time depends on what else runs on the machine: the load average is printed, and the CPU
time in brackets is the steadier figure on a shared box. It counts every process the command
starts (workers, Playwright's driver, Chromium's processes), each as it is reaped: this process
is their subreaper, so the renderers Chromium never waits for are reaped (and counted) here;
nothing samples meanwhile, so the bench takes no CPU from the command it measures.
The qualibench package measured is byte-compiled first when it has no bytecode and this
environment forbids writing any (PYTHONDONTWRITEBYTECODE, as on the team's machines): an editable
checkout would then compile some 45 of its modules from source at every command (about 0.07 s),
which a user's `pip install` never does (pip compiles the package when it installs it). The line
"bytecode:" says which; `--no-compile` measures the checkout as it is.
Run: python bench/report.py [--brands 500] [--no-pdf] [--no-per-brand] [--workers N] [--lang fr] [--no-compile]
(with the interpreter whose qualibench is to be measured: its console script, else `-m qualibench`)
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qualibench.db import DEFAULT_DB_FILE
from qualibench.synthetic import build_finished_campaign
from qualibench.workspace import Workspace

TARGETS = {"html": 2.0, "pdf": 45.0, "per_brand": 120.0}
_PHASE = re.compile(r"(\w+) ([\d.]+) s \(CPU ([\d.]+) s\)")


class CpuMeter:
    """CPU seconds of every process the measured commands start, counted as each is reaped.

    This process is made a child subreaper (Linux prctl): a process whose parent ends without
    waiting for it (Chromium's renderers) is handed to this one, which reaps it after the command,
    so its time is counted too. The count is getrusage(RUSAGE_CHILDREN): exact, and nothing runs
    meanwhile. (This bench used to read every process's /proc/PID/stat ten times a second: it
    missed the last tenth of a second of each process, and all of one that lived less, such
    as the bootstrap's forked helper, and added its own reading, some 3 % of a core, to the figure.)
    """

    PR_SET_CHILD_SUBREAPER = 36

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(self.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")

    @staticmethod
    def _reap(deadline_s: float = 10.0) -> None:
        # orphans handed over (exited, or still ending): wait for each, so its time is counted
        end = time.monotonic() + deadline_s
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                if time.monotonic() > end:
                    print("note: a process the command started is still running; its CPU is not counted")
                    return
                time.sleep(0.02)

    def children(self) -> float:
        """Return the CPU seconds of every descendant reaped so far (all of them, once a command ended)."""
        self._reap()
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def __call__(self) -> float:
        """Return this process's CPU seconds plus every reaped descendant's."""
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime + self.children()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _qualibench() -> list[str]:
    """Return the command that runs `qualibench` with this interpreter (so this tree's code).

    The console script installed beside this interpreter (a venv's), else the one on PATH when its
    shebang names this interpreter; else `python -m qualibench`, the same entry point.
    """
    for found in (Path(sys.executable).parent / "qualibench", shutil.which("qualibench")):
        if found and Path(found).is_file():
            with open(found, "rb") as fh:
                first = fh.readline().decode("utf-8", "replace").strip()
            if first[2:].strip() in (sys.executable, os.path.realpath(sys.executable)):
                return [str(found)]
    return [sys.executable, "-m", "qualibench"]


def byte_compile(enabled: bool) -> str:
    """Return the "bytecode:" line; byte-compile the measured package first when it needs it.

    Only when Python may not write bytecode itself and the package has none: what a user's
    installed package holds (pip compiles it), without which every command compiles the
    modules it imports from source.
    """
    probe = "import sys, qualibench; print(sys.flags.dont_write_bytecode, qualibench.__path__[0])"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    flag, pkg = res.stdout.split(maxsplit=1)
    pkg = pkg.strip()
    cached = any(Path(pkg).rglob("*.pyc"))
    if flag != "1" or cached:
        return f"bytecode: as installed ({'cached' if cached else 'written by Python at the first run'})"
    if not enabled:
        return "bytecode: none (--no-compile; PYTHONDONTWRITEBYTECODE: every command compiles its modules)"
    subprocess.run([sys.executable, "-m", "compileall", "-q", pkg], capture_output=True, check=True)
    return f"bytecode: compiled now in {pkg} (PYTHONDONTWRITEBYTECODE set and none there, as pip install would)"


def _line(name: str, wall: float, cpu: float | None, target: float | None = None, extra: str = "") -> None:
    verdict = "" if target is None else f"  target < {target:g} s: {'OK' if wall < target else 'MISSED'}"
    cpu_text = f"[cpu {cpu:7.2f} s]" if cpu is not None else " " * 16
    print(f"{name:<28}: {wall:7.2f} s {cpu_text}{verdict}{'  ' + extra if extra else ''}", flush=True)


def run_command(meter: CpuMeter, root: Path, name: str, args: list[str], target: float) -> None:
    """Run `qualibench report ARGS --timings` in `root` as a user would; print its time and split."""
    env = os.environ | {"PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    cmd = [*_qualibench(), "report", *args, "--timings"]
    t0, c0 = time.perf_counter(), meter.children()
    res = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    cpu = meter.children() - c0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    timing = next((ln for ln in res.stdout.splitlines() if ln.startswith("timings:")), "")
    phases = [(n, float(w), float(c)) for n, w, c in _PHASE.findall(timing)]
    sizes = [p.stat().st_size for p in (root / "out").rglob("*") if p.is_file()]
    extra = f"({len(sizes)} file(s), {sum(sizes) / 1e6:.1f} MB)"
    _line(f"{name}, whole command", wall, cpu, target, extra)
    for n, w, c in phases:
        _line(f"  {n}", w, c, extra="(CPU of the command's process)" if n in ("pdf", "per_brand") else "")
    _line("  start-up and the rest", wall - sum(w for _, w, _ in phases), None)
    shutil.rmtree(root / "out", ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--brands", type=int, default=500)
    ap.add_argument("--lang", default="fr", choices=("fr", "en"))
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--no-per-brand", action="store_true")
    ap.add_argument("--workers", type=int, default=0, help="per-brand PDF processes (default: one per core)")
    ap.add_argument("--no-compile", action="store_true", help="never byte-compile the measured package first")
    args = ap.parse_args()
    meter = CpuMeter()
    print(f"load average at start: {_load()}; {os.cpu_count()} cores; command: {' '.join(_qualibench())}")
    print(byte_compile(not args.no_compile))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = Workspace.open(root, f"sqlite:///{root / DEFAULT_DB_FILE}")
        t0, c0 = time.perf_counter(), meter()
        build_finished_campaign(ws, brands=args.brands, scenarios=3)
        ws.engine.dispose()
        _line("build synthetic campaign", time.perf_counter() - t0, meter() - c0)
        common = ["--lang", args.lang, "--out", "out"]
        run_command(meter, root, "HTML", ["--format", "html", *common], TARGETS["html"])
        if not args.no_pdf:
            run_command(meter, root, "full PDF", ["--format", "pdf", *common], TARGETS["pdf"])
        if not args.no_per_brand:
            workers = ["--workers", str(args.workers)] if args.workers else []
            run_command(meter, root, f"per-brand PDFs ({args.brands})", ["--per-brand", *workers, *common],
                        TARGETS["per_brand"])
    print(f"load average at end: {_load()}")


if __name__ == "__main__":
    main()
