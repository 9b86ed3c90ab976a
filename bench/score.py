"""Benchmark of the scorer: replies per CPU-second on one core, and rescoring 100,000 replies.

    python bench/score.py [--replies 100000] [--db URL] [--seconds 5] [--skip-rescore]
    python bench/score.py --dump FILE   # every result of a fixed set, one JSON line each
    python bench/score.py --against CHECKOUT   # this scorer and another checkout's, taking turns

Prints figures (targets: >= 5,000 replies per CPU-second on one core; rescoring 100,000 replies
< 30 s). The corpus is the labelled set of tests/fixtures/scoring/, varied (sentences shuffled,
names, numbers and order references changed) so that each scored text is distinct. CPU time
(time.process_time) is what one core spends whatever else runs; under load the best chunk is
the steadier figure.

--dump checks a speed change is output-identical: dump before and after, then `cmp` the files
(points, spans, why and notes of the development parts of scoring/validation/ on every channel,
the bench corpus, the same with line breaks inside sentences, two replies joined in one (mixed
languages), and bad input).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qualibench.scorer.engine import score_reply  # noqa: E402
from qualibench.scorer.rubric import load_rubric  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "scoring"
NAMES = ["Julien", "Sophie", "Marc", "Nadia", "Emma", "Oliver", "Léa", "Paul", "Hannah", "Tom"]


def corpus(n: int, seed: int = 7) -> list[tuple[str, dict, dict]]:
    """Return n distinct (text, scenario, fills) variations of the labelled replies."""
    data = yaml.safe_load((FIXTURES / "replies.yaml").read_text())
    scenarios = {}
    for p in (FIXTURES / "scenarios").glob("*.yaml"):
        s = yaml.safe_load(p.read_text())
        scenarios[s["id"]] = s
    rng = random.Random(seed)
    out = []
    for i in range(n):
        item = data["replies"][i % len(data["replies"])]
        paragraphs = item["text"].split("\n\n")
        middle = paragraphs[1:-1]
        rng.shuffle(middle)
        text = "\n\n".join([paragraphs[0], *middle, paragraphs[-1]] if len(paragraphs) > 2 else paragraphs)
        text = re.sub(r"\d{5,}", lambda m: str(rng.randrange(10 ** (len(m.group()) - 1), 10 ** len(m.group()))), text)
        text = text.replace("Julien", rng.choice(NAMES)) + f"\nRéf. {i}"
        fills = {k: re.sub(r"\d", lambda _: str(rng.randrange(10)), v) for k, v in (item.get("fills") or {}).items()}
        out.append((text, scenarios[item["scenario"]], fills))
    return out


def bench_throughput(seconds: float) -> None:
    rubric = load_rubric()
    texts = corpus(20_000)
    # CPU time is what one core spends, whatever else runs on the machine; wall time beside it.
    wall, cpu = time.perf_counter(), time.process_time()
    for text, scenario, fills in texts[:5_000]:
        score_reply(text, scenario, rubric, persona_name="Claire Martin", fills=fills)
    cold_wall, cold_cpu = 5_000 / (time.perf_counter() - wall), 5_000 / (time.process_time() - cpu)
    done = 0
    chunks: list[float] = []  # CPU seconds of each chunk of 1,000 distinct replies
    wall, cpu = time.perf_counter(), time.process_time()
    while (time.perf_counter() - wall < seconds or len(chunks) < 3) and done < 15_000:
        at = time.process_time()
        for text, scenario, fills in texts[5_000 + done: 6_000 + done]:
            score_reply(text, scenario, rubric, persona_name="Claire Martin", fills=fills)
        done += 1_000
        chunks.append(time.process_time() - at)
    steady_wall, steady_cpu = done / (time.perf_counter() - wall), done / (time.process_time() - cpu)
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"score_reply on one core: {1_000 / min(chunks):,.0f} replies per CPU-second "
          f"(best of {len(chunks)} chunks of 1,000 distinct replies); target >= 5,000")
    print(f"  all {done:,}: {steady_cpu:,.0f} replies per CPU-second ({steady_wall:,.0f}/s wall clock); "
          f"first 5,000 (cold caches): {cold_cpu:,.0f} per CPU-second ({cold_wall:,.0f}/s wall clock)")
    print(f"load average (1 / 5 / 15 min): {load} on {os.cpu_count()} cores (CPU time is the steadier figure)")


def bench_against(ref: Path, replies: int = 6_000) -> None:
    """Score the same replies with this checkout's scorer and with `ref`'s, alternately.

    Under load, runs a minute apart differ by a third; two scorers in one process, taking turns
    reply by reply (each with its own caches, the order swapped every reply), see the same load.
    """
    import importlib
    import shutil
    import statistics

    if not (ref / "qualibench" / "scorer" / "engine.py").is_file() or not (ref / "scoring").is_dir():
        sys.exit(f"--against {ref}: not a qualibench checkout (no qualibench/scorer/, scoring/); "
                 "make one with `git worktree add /tmp/ref main`")
    with tempfile.TemporaryDirectory(prefix="scorer-ref-") as tmp:
        # The other checkout's package under another name: its modules import each other relatively.
        shutil.copytree(ref / "qualibench", Path(tmp) / "qualibench_ref")
        shutil.copytree(ref / "scoring", Path(tmp) / "qualibench_ref" / "_data" / "scoring")
        sys.path.insert(0, tmp)
        other = importlib.import_module("qualibench_ref.scorer.engine").score_reply
        other_rubric = importlib.import_module("qualibench_ref.scorer.rubric").load_rubric()
        rubric = load_rubric()
        texts = corpus(3_000 + replies)
        sides = ((score_reply, rubric, 0), (other, other_rubric, 1))
        for text, scenario, fills in texts[:3_000]:  # caches of both warmed alike
            for score, rub, _k in sides:
                score(text, scenario, rub, persona_name="Claire Martin", fills=fills)
        chunks: list[list[float]] = [[], []]
        spent = [0.0, 0.0]
        clock = time.thread_time
        for i, (text, scenario, fills) in enumerate(texts[3_000:], 1):
            for score, rub, k in (sides if i % 2 else sides[::-1]):
                at = clock()
                score(text, scenario, rub, persona_name="Claire Martin", fills=fills)
                spent[k] += clock() - at
            if i % 500 == 0:
                for k in (0, 1):
                    chunks[k].append(spent[k])
                spent = [0.0, 0.0]
    ratio = [a / b for a, b in zip(chunks[0], chunks[1], strict=True)]
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    for k, name in ((0, f"this checkout ({ROOT})"), (1, f"--against {ref}")):
        print(f"{name}: {500 / min(chunks[k]):,.0f} replies per CPU-second (best of {len(chunks[k])} chunks of 500), "
              f"{500 * len(chunks[k]) / sum(chunks[k]):,.0f} over all {500 * len(chunks[k]):,}")
    print(f"  this checkout's CPU time per chunk / the other's: median {statistics.median(ratio):.3f} "
          f"(range {min(ratio):.3f}-{max(ratio):.3f}), the same replies taking turns")
    print(f"load average (1 / 5 / 15 min): {load} on {os.cpu_count()} cores")


def dump(path: Path) -> None:
    """Write every result of a fixed set of replies, one JSON line each (compare two with cmp)."""
    import json

    from qualibench.scorer.validation import load_part, load_scenarios

    rubric = load_rubric()
    lines: list[str] = []

    def out(tag: str, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        res = score_reply(*args, rubric, **kwargs)
        lines.append(json.dumps([tag, res.to_dict()], ensure_ascii=False, sort_keys=True))

    scenarios = load_scenarios()
    for name in ("dev", "test"):  # development parts only: held-out parts are not read here
        part = load_part(name) or {"items": []}
        who = part.get("persona") or {}
        persona = f"{who.get('first_name', '')} {who.get('last_name', '')}".strip()
        for item in part["items"]:
            fills = {k: str(v) for k, v in (item.get("fills") or {}).items()}
            scenario = scenarios[item["scenario"]]
            for ch in dict.fromkeys((item.get("channel", "email"), "email", "x")):
                out(f"{name}/{item['id']}/{ch}/request", item["reply"], scenario, request_text=item.get("request", ""),
                    persona_name=persona, fills=fills, channel=ch)
                out(f"{name}/{item['id']}/{ch}", item["reply"], scenario, persona_name=persona, fills=fills, channel=ch)
            out(f"{name}/{item['id']}/en", item["reply"], scenario, fills=fills, language="en",
                signature="Kevin\nService clients")
    rng = random.Random(5)
    for i, (text, scenario, fills) in enumerate(corpus(3_000, seed=11)):
        ch = ("email", "webform", "x")[i % 3]
        out(f"bench/{i}/{ch}", text, scenario, persona_name="Claire Martin", fills=fills, channel=ch)
        if i < 1_500:  # line breaks inside sentences and phrases, white space around them
            broken = "".join(c if c != " " or rng.random() > 0.3 else rng.choice(["\n", " \n", "\n  ", "\n\n"])
                             for c in text)
            out(f"broken/{i}/{ch}", broken, scenario, persona_name="Claire Martin", fills=fills, channel=ch)
    texts = corpus(400, seed=13)
    for i, (text, scenario, fills) in enumerate(texts):  # two replies in one, of either language
        other = texts[(i * 7 + 3) % len(texts)][0]
        joined = f"{text}\n{other}" if i % 2 else f"{text.replace(chr(10), ' ')} {other}"
        out(f"mixed/{i}", joined, scenario, persona_name="Claire Martin", fills=fills, channel=("email", "x")[i % 2])
    first = next(iter(scenarios.values()))
    for i, text in enumerate(["", "> quoted only\n> more", "😀😀😀", "x" * 200_000, "Bonjour, merci. " * 3_000,
                              "@brand ^JM", "İSTANBUL\nMerci pour\nvotre message"]):
        out(f"bad/{i}", text, first)
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines):,} results written to {path}")


def bench_rescore(n: int, db_url: str | None, workers: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="scorer-bench-") as tmp:
        _bench_rescore(Path(tmp), n, db_url, workers)


def _bench_rescore(tmp: Path, n: int, db_url: str | None, workers: int | None) -> None:
    from sqlalchemy import insert
    from sqlmodel import select

    from qualibench.campaign.init import init_campaign
    from qualibench.models import InboundMessage, Probe, Reply
    from qualibench.planning import plan_campaign
    from qualibench.scorer.campaign import rescore_campaign, score_campaign
    from qualibench.workspace import Workspace

    folder = tmp / "campaign"
    init_campaign(folder, brands=20, channels=("email",), start=date(2026, 11, 30), force=True)
    ws = Workspace.open(folder, db_url or f"sqlite:///{tmp / 'bench.sqlite'}")
    plan_campaign(ws)
    texts = corpus(min(n, 20_000))
    t0 = time.perf_counter()
    with ws.session() as s:
        probes = s.exec(select(Probe)).all()
        cid = probes[0].campaign_id
        at = datetime(2026, 12, 1, tzinfo=UTC)
        for lo in range(0, n, 5_000):
            chunk = range(lo, min(n, lo + 5_000))
            s.execute(insert(InboundMessage), [
                {"campaign_id": cid, "sha256": hashlib.sha256(str(i).encode()).hexdigest(), "status": "matched",
                 "received_at": at, "collected_at": at, "channel": "email", "source": "bench", "source_ref": str(i),
                 "size": 0, "date_disagreement": False, "from_address": "", "to_addresses": "", "subject": "",
                 "message_id": "", "note": ""} for i in chunk])
        inbound_ids = s.exec(select(InboundMessage.id).order_by(InboundMessage.id)).all()
        for lo in range(0, n, 5_000):
            s.execute(insert(Reply), [
                {"campaign_id": cid, "inbound_id": inbound_ids[i], "probe_id": probes[i % len(probes)].id,
                 "kind": "answer", "match_method": "reply_address", "match_confidence": 1.0, "needs_review": False,
                 "received_at": at, "language": "", "text": texts[i % len(texts)][0], "signature": "",
                 "redirect_to": "", "ticket_ref": ""} for i in range(lo, min(n, lo + 5_000))])
    print(f"built {n:,} replies in {time.perf_counter() - t0:.1f} s ({ws.engine.url.get_backend_name()})")
    wall, cpu = time.perf_counter(), time.process_time()
    first = score_campaign(ws, workers=workers)
    print(f"score_campaign ({os.cpu_count()} cores): {first.scored:,} replies in {time.perf_counter() - wall:.1f} s wall, "
          f"{time.process_time() - cpu:.1f} s CPU (database reads and writes included)")
    other = tmp / "other.yaml"  # 5 points moved from relevance to reformulation (the first weight 20)
    other.write_text((ROOT / "scoring" / "rubrics" / "default.yaml").read_text()
                     .replace("weight: 40", "weight: 35").replace("    weight: 20\n", "    weight: 25\n", 1))
    wall, cpu = time.perf_counter(), time.process_time()
    report = rescore_campaign(ws, other, diff=True, workers=workers)
    print(f"rescore_campaign with another rubric: {report.score.scored:,} replies in "
          f"{time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
          f"{len(report.moves)} brand(s) move; target < 30 s for 100,000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--skip-rescore", action="store_true")
    parser.add_argument("--workers", type=int, default=None,
                        help="scoring processes (default: one per core for large runs)")
    parser.add_argument("--dump", type=Path, default=None, metavar="FILE",
                        help="write every result of a fixed set as JSON lines instead of timing")
    parser.add_argument("--against", type=Path, default=None, metavar="CHECKOUT",
                        help="also score the same replies with another checkout's scorer, taking turns, "
                             "and print both (a paired comparison that load affects alike)")
    args = parser.parse_args()
    if args.dump is not None:
        dump(args.dump)
        return
    if args.against is not None:
        bench_against(args.against.resolve())
        return
    bench_throughput(args.seconds)
    if not args.skip_rescore:
        bench_rescore(args.replies, args.db, args.workers)


if __name__ == "__main__":
    main()
