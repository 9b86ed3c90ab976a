"""Benchmark: a synthetic finished campaign of 500 brands x 4 channels x 3 scenarios.

Prints, beside the targets of the report issue (#11): the HTML render (< 2 s), the full PDF
(< 45 s) and the per-brand PDFs of every brand (< 120 s, worker processes), all printed by
headless Chromium. Analysis and trophies are timed apart (they are shared by all outputs).
Wall time depends on what else runs on the machine: the load average is printed, and the CPU
time in brackets is the steadier figure on a shared box. It counts this process and every
descendant (workers, Playwright's driver, Chromium's processes), sampled from /proc: Chromium's
renderers are never reaped by us, so getrusage(RUSAGE_CHILDREN) would miss them.
Run: python bench/report.py [--brands 500] [--no-pdf] [--no-per-brand] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import threading
import time
from pathlib import Path

from qualibench.analytics import analyse
from qualibench.awards import compute_trophies
from qualibench.report import html_to_pdf, load_labels, render_html, template_env
from qualibench.report.per_brand import write_brand_reports
from qualibench.synthetic import build_finished_campaign
from qualibench.workspace import Workspace

TARGETS = {"html": 2.0, "pdf": 45.0, "per_brand": 120.0}


class CpuMeter(threading.Thread):
    """CPU seconds of this process plus every descendant it ever had (latest /proc reading of each)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[int, float] = {}  # pid -> its latest CPU seconds
        self.tick = os.sysconf("SC_CLK_TCK")
        self.start()

    def _scan(self) -> None:
        children: dict[int, list[tuple[int, float]]] = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as fh:
                    st = fh.read()
            except OSError:
                continue
            f = st[st.rindex(")") + 2:].split()
            children.setdefault(int(f[1]), []).append((int(d), (int(f[11]) + int(f[12])) / self.tick))
        stack = [os.getpid()]
        while stack:
            for pid, cpu in children.get(stack.pop(), []):
                self.seen[pid] = cpu  # a pid is not reused within one short run
                stack.append(pid)

    def run(self) -> None:
        while True:
            self._scan()
            time.sleep(0.2)

    def __call__(self) -> float:
        self._scan()
        me = resource.getrusage(resource.RUSAGE_SELF)
        return me.ru_utime + me.ru_stime + sum(self.seen.values())


_cpu = CpuMeter()


def _line(name: str, wall: float, cpu: float, target: float | None = None, extra: str = "") -> None:
    verdict = "" if target is None else f"  target < {target:g} s: {'OK' if wall < target else 'MISSED'}"
    print(f"{name:<26}: {wall:7.2f} s [cpu {cpu:7.2f} s]{verdict}{'  ' + extra if extra else ''}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--brands", type=int, default=500)
    ap.add_argument("--no-pdf", action="store_true")
    ap.add_argument("--no-per-brand", action="store_true")
    ap.add_argument("--workers", type=int, default=0, help="per-brand PDF processes (default: one per core)")
    args = ap.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = Workspace.open(root, f"sqlite:///{root / 'bench.sqlite'}")
        t0, c0 = time.perf_counter(), _cpu()
        cid = build_finished_campaign(ws, brands=args.brands, scenarios=3)
        t1, c1 = time.perf_counter(), _cpu()
        analysis = analyse(ws, cid)
        trophies = compute_trophies(analysis)
        t2, c2 = time.perf_counter(), _cpu()
        render_html(ws, analysis, trophies, lang="en")  # warm: imports, templates, fonts of the charts
        t2, c2 = time.perf_counter(), _cpu()
        html = render_html(ws, analysis, trophies, lang="fr")
        (root / "report.html").write_text(html, encoding="utf-8")
        t3, c3 = time.perf_counter(), _cpu()
        tests = int(analysis.tests["sent"].sum())
        print(f"campaign: {args.brands} brands x 4 channels x 3 scenarios = {tests} tests sent")
        _line("build synthetic campaign", t1 - t0, c1 - c0)
        _line("analytics + trophies", t2 - t1, c2 - c1, extra=f"({analysis.rules.bootstrap_samples} bootstrap samples)")
        _line("HTML render", t3 - t2, c3 - c2, TARGETS["html"], f"({len(html) / 1e6:.1f} MB)")
        if not args.no_pdf:
            html_to_pdf(html, root / "report.pdf")
            t4, c4 = time.perf_counter(), _cpu()
            size = (root / "report.pdf").stat().st_size
            _line("full PDF (Chromium)", t4 - t3, c4 - c3, TARGETS["pdf"], f"({size / 1e6:.1f} MB)")
        if not args.no_per_brand:
            env = template_env()
            labels = load_labels("fr", env.globals["template_dirs"])
            t5, c5 = time.perf_counter(), _cpu()
            paths = write_brand_reports(ws, analysis, trophies, lang="fr", out=root, env=env, labels=labels,
                                        workers=args.workers or None)
            t6, c6 = time.perf_counter(), _cpu()
            _line(f"per-brand PDFs ({len(paths)})", t6 - t5, c6 - c5, TARGETS["per_brand"],
                  f"({(t6 - t5) / max(len(paths), 1) * 1000:.0f} ms a brand)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
