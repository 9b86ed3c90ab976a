"""Benchmark: a synthetic finished campaign of 500 brands x 4 channels x 3 scenarios.

Prints the time to build it, to analyse it (indices + bootstrap), to render the HTML and to
write the PDF. Targets (DESIGN.md): HTML under 5 s, PDF under 60 s.
Wall time depends on what else runs on the machine; the CPU time of this process (in
brackets) is the steadier figure on a shared box.
Run: python bench/report.py [--brands 500] [--no-pdf]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from time import process_time as cpu

from qualibench.analytics import analyse
from qualibench.awards import compute_trophies
from qualibench.report import html_to_pdf, render_html
from qualibench.synthetic import build_finished_campaign
from qualibench.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--brands", type=int, default=500)
    ap.add_argument("--no-pdf", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = Workspace.open(root, f"sqlite:///{root / 'bench.sqlite'}")
        t0, c0 = time.perf_counter(), cpu()
        cid = build_finished_campaign(ws, brands=args.brands, scenarios=3)
        t1, c1 = time.perf_counter(), cpu()
        analysis = analyse(ws, cid)
        trophies = compute_trophies(analysis)
        t2, c2 = time.perf_counter(), cpu()
        html = render_html(ws, analysis, trophies, lang="fr")
        (root / "report.html").write_text(html, encoding="utf-8")
        t3, c3 = time.perf_counter(), cpu()
        tests = int(analysis.tests["sent"].sum())
        print(f"campaign: {args.brands} brands x 4 channels x 3 scenarios = {tests} tests sent")
        print(f"build synthetic campaign: {t1 - t0:6.2f} s [cpu {c1 - c0:6.2f} s]")
        print(f"analytics + trophies    : {t2 - t1:6.2f} s [cpu {c2 - c1:6.2f} s]  "
              f"({analysis.rules.bootstrap_samples} bootstrap samples)")
        print(f"HTML render             : {t3 - t2:6.2f} s [cpu {c3 - c2:6.2f} s]  ({len(html) / 1e6:.1f} MB)  target < 5 s")
        print(f"analytics + HTML        : {t3 - t1:6.2f} s [cpu {c3 - c1:6.2f} s]")
        if not args.no_pdf:
            html_to_pdf(html, root / "report.pdf")
            t4, c4 = time.perf_counter(), cpu()
            size = (root / "report.pdf").stat().st_size
            print(f"PDF (WeasyPrint)        : {t4 - t3:6.2f} s [cpu {c4 - c3:6.2f} s]  ({size / 1e6:.1f} MB)  target < 60 s")


if __name__ == "__main__":
    main()
