"""Validity of the scorer and the classifier on the labelled corpus, dev and test parts apart.

    python bench/validity.py [--part dev|test|test2|test3|test4|test5|development|test6|all] [--worst N] [--json FILE]

For each part it prints (scoring/validation/dev.yaml, tuned on; test.yaml, test2.yaml, test3.yaml,
test4.yaml and test5.yaml, each written blind as a held-out part, looked at in aggregate and then
retired to development -- test.yaml at ~16:00 UTC on 2026-12-01, test2 and test3 at ~18:45 UTC,
test4 at ~21:30 UTC the same day, test5 at ~00:40 UTC on 2026-12-02 -- their items and errors are
now studied like dev's; the held-out test6.yaml, written blind by another helper after test5 had
been seen):
- Spearman of the automatic total against the hand total, per-criterion Spearman, and the mean
  absolute error on the 0-100 scale per channel, over the replies a rater scored;
- the same for three baselines that know nothing of customer service: the reply's length in
  words, the bag-of-words cosine between reply and request, the TF-IDF cosine (IDF fitted on the
  dev part). A baseline has no scale of its own: for its MAE it is mapped to 0-100 by quantile
  matching fitted on the DEV part only (the dev baseline values onto the dev hand totals, a
  non-decreasing map, so ranks are unchanged), then applied as is to the test part;
- the classifier (qualibench.mail.classify.classify_text, given the item's request as the collector
  gives a matched reply its probe's) on every reply: acknowledgement recall
  (automatic non-answers -- auto_ack, out_of_office, not_monitored, bounce -- caught) and false
  acknowledgements (answers and redirects filed as automatic);
- paraphrase groups: replies with the same meaning in other words; the spread (max - min) of their
  automatic totals, target <= 8 points.

The held-out part (test6) is only read here, to print these figures (counts only, no item ids).
`--part development` prints every development part and never reads the held-out one (what the
engineer tuning the scorer runs); `--part all` adds the held-out part (what the lead runs, once,
after the last rule change). `--worst` lists the development replies (dev, test .. test5) the scorer
is furthest from; it never lists a held-out item.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qualibench.scorer.rubric import CRITERIA  # noqa: E402
from qualibench.scorer.validation import (  # noqa: E402
    CHANNELS,
    TARGETS,
    figures,
    idf_from,
    load_part,
    load_scenarios,
    score_part,
)

# The development parts (rules are chosen on them) and the held-out parts, in the order they were
# written, with what each is. test.yaml, then test2.yaml and test3.yaml, then test4.yaml, then
# test5.yaml were held out until their figures had been looked at; they are kept as written (file
# and history) and now count as development.
DEVELOPMENT = {"dev": "tuned on: in-sample",
               "test": "seen, now development",
               "test2": "seen, now development",
               "test3": "seen, now development",
               "test4": "seen, now development",
               "test5": "seen, now development"}
HELD_OUT = {"test6": "held out; fresh, written blind after test5 had been seen"}


# ------------------------------------------------------------------ printing
def _f(v: float, digits: int = 3) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def print_part(name: str, fig: dict, held_out: bool = False) -> None:
    print(f"\n== {name} part: {fig['items']} replies, {fig['scored']} hand-scored")
    head = f"{'system':<14}{'Spearman':>9}  " + "".join(f"{c[:6]:>8}" for c in CRITERIA) + "  MAE " + \
        " ".join(f"{c:>7}" for c in (*CHANNELS, "all"))
    print(head)
    for sysname, s in fig["systems"].items():
        crit = "".join(f"{_f(s['criteria'][c], 2):>8}" for c in CRITERIA)
        mae = " ".join(f"{_f(s['mae'].get(c), 1):>7}" for c in (*CHANNELS, "all"))
        print(f"{sysname:<14}{_f(s['spearman']):>9}  {crit}      {mae}")
    best = max((s["spearman"] for n, s in fig["systems"].items() if n != "scorer"
                and not math.isnan(s["spearman"])), default=math.nan)
    sc = fig["systems"]["scorer"]
    print(f"scorer - best baseline Spearman: {_f(sc['spearman'] - best)} (target >= {TARGETS['margin']}); "
          f"total target >= {TARGETS['spearman']}, each criterion >= {TARGETS['criterion']}, "
          f"MAE <= {TARGETS['mae']:g} per channel")
    c = fig["classifier"]
    recall = c["caught"] / c["automatic"] if c["automatic"] else math.nan
    print(f"classifier: acknowledgement recall {c['caught']}/{c['automatic']} ({_f(recall * 100, 0)} %), "
          f"false acknowledgements {c['false_ack']}/{c['answers']}, kind agreement "
          f"{c['kind_agreement']}/{fig['items']}")
    print(f"  reply alone, without its request: recall {c['caught_alone']}/{c['automatic']}, "
          f"false {c['false_alone']}/{c['answers']}")
    if c["confusion"]:
        print("  disagreements: " + ", ".join(f"{k} x{v}" for k, v in sorted(c["confusion"].items())))
    sp = fig["paraphrase"]
    if sp:
        within = sum(1 for a, _h in sp.values() if a <= TARGETS["spread"])
        worst = max(a for a, _h in sp.values())
        print(f"paraphrase groups: {within}/{len(sp)} within {TARGETS['spread']:g} points, largest spread "
              f"{worst:.1f} (hand: largest {max(h for _a, h in sp.values()):.1f})")
        over = [f"{g} {a:.1f}" for g, (a, _h) in sp.items() if a > TARGETS["spread"]]
        if over and not held_out:  # on the held-out part, counts only: no look at its items
            print("  over 8: " + ", ".join(over))


def print_worst(name: str, rows: list[dict], n: int) -> None:
    scored = [r for r in rows if r["hand"] is not None]
    scored.sort(key=lambda r: -abs(r["auto"].total - sum(r["hand"].values())))
    print(f"\n-- {name}: the {n} replies the scorer is furthest from")
    for r in scored[:n]:
        h = r["hand"]
        a = r["auto"].criteria
        diff = " ".join(f"{c[:3]} {a.get(c, 0):g}/{h[c]:g}" for c in CRITERIA)
        print(f"{r['id']} {r['channel']:<7} auto {r['auto'].total:5.1f} hand {sum(h.values()):5.1f}  {diff}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=(*DEVELOPMENT, *HELD_OUT, "development", "all", "both"),
                        default="all",
                        help="which part to print (default all, held-out part included; 'development' "
                             "prints every development part and never reads the held-out one; 'both' "
                             "is the old name of dev+test)")
    parser.add_argument("--worst", type=int, default=0,
                        help="list the N development replies (dev, test .. test5) furthest from the hand score")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    t0, c0 = time.perf_counter(), time.process_time()
    scenarios = load_scenarios()
    dev = load_part("dev")
    if dev is None:
        sys.exit("scoring/validation/dev.yaml is missing: the baselines are fitted on it")
    idf = idf_from([i["request"] for i in dev["items"]] + [i["reply"] for i in dev["items"]])
    dev_rows = score_part(dev, scenarios)
    dev_fig, maps = figures(dev_rows, idf, None)
    report = {}
    if args.part in ("all", "both", "development"):
        wanted = {"all": [*DEVELOPMENT, *HELD_OUT], "development": [*DEVELOPMENT],
                  "both": ["dev", "test"]}[args.part]
    else:
        wanted = [args.part]
    for name in wanted:
        if name == "dev":
            fig, rows = dev_fig, dev_rows
        else:
            part = load_part(name)
            if part is None:
                print(f"\n== {name} part: scoring/validation/{name}.yaml is not committed yet")
                continue
            rows = score_part(part, scenarios)
            fig, _ = figures(rows, idf, maps)
        held_out = name in HELD_OUT
        print_part(f"{name} ({(HELD_OUT if held_out else DEVELOPMENT)[name]})", fig, held_out=held_out)
        report[name] = fig
        if args.worst and not held_out:  # never an item of a held-out part
            print_worst(name, rows, args.worst)
    print(f"\n(baselines mapped to 0-100 by quantile matching fitted on dev only; "
          f"{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU)")
    if args.json:
        args.json.write_text(json.dumps(report, default=str, indent=1))


if __name__ == "__main__":
    main()
