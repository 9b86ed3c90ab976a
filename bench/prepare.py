"""The collector's per-message worker function (mail.prepare.prepare_payload) in one process.

    python bench/prepare.py [--messages 3000] [--profile] [--dump FILE]

Builds the replies bench/collect.py appends to Dovecot (same generator, same seed, a campaign
of 40 brands), then runs the worker function over them here, without IMAP or a database, and
prints its processor time per message and the pickled size of what crosses back to the
collector. That is the part of a first collect the parser workers spend (issue #14).

Two figures: the first round, with every per-text cache of the parser empty (prefilter's
answers per line and sentence, the address cache...), as a collect's worker meets its messages;
and the best of --rounds, where later rounds meet the same messages again, so every line and
sentence is answered from those caches: a floor that no collect reaches (each of its messages
is new, though built from the same templates). The first-round figure is the one to compare
with a collect's workers.

--profile prints the cProfile top functions of a pass over as many further messages, never
seen by this process (new numbers and dates, the same templates: as in a collect). --dump FILE writes every result and the whole
parse (the bench's messages, then tests/fixtures/mail/ and the extraction development corpus:
tests/fixtures/quotes/dev/ and heldout/, retired to development), so two versions of the
parser are compared with `cmp`: a speed change must give identical results.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pickle
import pstats
import random
import sys
import tempfile
from dataclasses import asdict, is_dataclass
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# What a worker's fork server has done before any message: the preparing modules imported and
# their patterns' words derived (mail.worker_start), so neither is counted in the first round.
import qualibench.mail.worker_start  # noqa: E402, F401
from qualibench.mail.prepare import prepare_payload  # noqa: E402

CORPORA = [ROOT / "tests" / "fixtures" / d for d in ("mail", "quotes/dev", "quotes/heldout")]


def bench_messages(n: int) -> list[bytes]:
    """The first `n` replies bench/collect.py's fill() appends, built the same way."""
    from datetime import UTC, datetime

    from collect import reply  # bench/collect.py

    from qualibench.clock import VirtualClock
    from qualibench.db import dispose_engines
    from tests.factories import make_campaign
    from tests.plugins.collecting import mark_sent

    with tempfile.TemporaryDirectory() as tmp:
        clock = VirtualClock(datetime(2026, 12, 20, 12, tzinfo=UTC))
        ws = make_campaign(Path(tmp) / "c", f"sqlite:///{tmp}/bench.sqlite", brands=40, clock=clock,
                           mail={"imap_host": "127.0.0.1", "imap_port": 1, "imap_security": "plain",
                                 "username": "shopper@shop.test", "password_env": "QB_UNUSED"})
        probes = mark_sent(ws)
        dispose_engines()
    rng = random.Random(7)
    out = []
    for i in range(n):
        p = probes[i % len(probes)]
        when = p.sent_at + timedelta(minutes=rng.randint(1, 60 * 24 * 10))
        out.append(reply(rng, i, p, when))
    return out


def corpus_messages() -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(ROOT)), p.read_bytes()) for d in CORPORA for p in sorted(d.glob("*.eml"))]


def _plain(value: object) -> object:
    """A result as plain data, for a line of the dump (dataclasses as dicts, enums by value)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


def _parsed(raw: bytes) -> object:
    from qualibench.mail.parse import UnparseableMessage, parse_message

    try:
        return parse_message(raw)
    except UnparseableMessage as exc:
        return ("unparseable", exc.message)


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000, help="bench messages to prepare")
    ap.add_argument("--profile", action="store_true", help="print the cProfile top functions")
    ap.add_argument("--dump", help="write every result to this file, one line each")
    ap.add_argument("--rounds", type=int, default=1, help="time this many passes (best kept)")
    args = ap.parse_args()
    raws = bench_messages(args.messages)
    print(f"{len(raws)} bench messages, {sum(map(len, raws)) / len(raws):,.0f} bytes on average; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: list[object] = []
    rounds: list[float] = []
    for _ in range(max(1, args.rounds)):
        before = cpu()
        results = [prepare_payload(raw) for raw in raws]
        rounds.append(cpu() - before)
    sizes = [len(pickle.dumps(r, pickle.HIGHEST_PROTOCOL)) for r in results]
    inbound = sum(len(pickle.dumps(r, pickle.HIGHEST_PROTOCOL)) for r in raws)
    per = [r / len(raws) * 1000 for r in rounds]
    print(f"prepare_payload: first round (caches empty, as in a collect's worker) {per[0]:.3f} ms "
          f"processor time a message; best of {len(per)} rounds {min(per):.3f} ms (the later "
          f"rounds meet the same messages again: warm caches, a floor no collect reaches); "
          f"rounds {' '.join(f'{x:.3f}' for x in per)}")
    print(f"results pickled {sum(sizes) / len(sizes):,.0f} bytes on average (payload in: "
          f"{inbound / len(raws):,.0f}); load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.profile:
        fresh = bench_messages(2 * len(raws))[len(raws):]  # never seen here: as in a collect
        prof = cProfile.Profile()
        prof.enable()
        for raw in fresh:
            prepare_payload(raw)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    if args.dump:
        # The whole parse too (callers other than the workers read its long texts).
        with open(args.dump, "w", encoding="utf-8") as fh:
            named = [(f"bench {i}", raw) for i, raw in enumerate(raws)] + corpus_messages()
            for k, (name, raw) in enumerate(named):
                result = results[k] if k < len(results) else prepare_payload(raw)
                fh.write(f"{name}\t{_plain(result)!r}\n\t{_plain(_parsed(raw))!r}\n")
        print(f"dump written to {args.dump}")


if __name__ == "__main__":
    main()
