"""Benchmark: the whole demo pipeline on N simulated brands; prints every stage's time.

    python bench/run_all.py --brands 500            # all channels the install supports
    python bench/run_all.py --brands 500 --channels email --formats html

Figures are printed, never asserted. Wall times depend on the machine's load: the load
average is printed beside them.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from qualibench.demo import run_demo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brands", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels", default="", help="comma-separated; default: all available")
    ap.add_argument("--formats", default="html,pdf")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in the folder)")
    ap.add_argument("--out", default=None, help="campaign folder (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="qb-bench-")) / "demo"
    channels = tuple(c for c in args.channels.split(",") if c) or None
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 5:
            last[0] = now
            print(f"  ... {stage}: {done / max(total, 1):.0%} of the campaign's time", file=sys.stderr)

    cpu0 = time.process_time()
    result = run_demo(out, brands=args.brands, seed=args.seed, progress=progress, db_url=args.db,
                      formats=tuple(args.formats.split(",")), channels=channels)
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"demo pipeline, {result.brands} brands, channels {', '.join(result.by_channel)}")
    print(f"  probes {result.probes}, sent {result.sent}, replies {result.replies}, "
          f"answered {result.answered} ({result.answer_rate:.0%}), "
          f"median delay {result.median_delay_hours or 0:.1f} h, {result.virtual_days:.1f} virtual days")
    print(f"  {'stage':<10} {'wall s':>9} {'CPU s':>8} {'share of wall':>14}")
    for stage, seconds in result.stages.items():
        print(f"  {stage:<10} {seconds:>9.2f} {result.stage_cpu.get(stage, 0.0):>8.2f} "
              f"{seconds / max(result.seconds, 1e-9):>14.0%}")
    other = result.seconds - sum(result.stages.values())
    other_cpu = cpu - sum(result.stage_cpu.values())
    print(f"  {'other':<10} {other:>9.2f} {other_cpu:>8.2f} "
          f"{other / max(result.seconds, 1e-9):>14.0%}   (analysis, awards, figures; imports)")
    print(f"  {'total':<10} {result.seconds:>9.2f} {cpu:>8.2f}   wall / CPU in this process; "
          f"peak RSS {peak_mb:.0f} MB, load average "
          f"{os.getloadavg()[0]:.1f}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"  {'children':<10} {'':>9} {children.ru_utime + children.ru_stime:>8.2f}   CPU of the "
          "processes this one waited for: the demo world's servers, parse workers, charts")
    if result.sent:
        print(f"  per probe sent: {1000 * result.stages.get('send', 0) / result.sent:.1f} ms sending, "
              f"{1000 * result.stages.get('collect', 0) / max(result.replies, 1):.1f} ms collecting per reply")
    print(f"  report: {result.html}  {result.pdf}")
    if result.missing:
        print(f"  not run: {', '.join(result.missing)}")


if __name__ == "__main__":
    main()
