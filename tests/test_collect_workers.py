"""The parser's worker processes: a stuck or killed worker is replaced and costs one message at most;
a message prepared ahead of matching is classified as classify() would with the real timing."""

from __future__ import annotations

import os
import pickle
import signal
from datetime import UTC, datetime, timedelta

from qualibench.mail.classify import classify
from qualibench.mail.parse import parse_message
from qualibench.mail.parser_pool import ParserPool
from qualibench.mail.prepare import prepare
from tests.plugins.collecting import HUMAN, reply_bytes

TARGET = "tests.plugins.stalling:stall_on"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0): look at its state.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_stuck_worker_is_killed_and_replaced_and_only_its_message_is_set_aside():
    with ParserPool(1, target=TARGET, wall_seconds=0.5, preload=()) as pool:
        first = pool.pids()[0]
        pool.submit([(1, b"a"), (2, b"stall"), (3, b"c")])

        got = pool.results([1, 2, 3])

        assert got[1] == b"A" and got[3] == b"C"  # the one queued behind it went on
        kind, reason, _hint = got[2]
        assert kind == "unparseable" and "busy for more than 0.5 s" in reason
        assert pool.replaced == 2  # stalled in its worker, then again in a fresh one
        assert _gone(first) and pool.pids()[0] != first
        pool.submit([(4, b"d")])
        assert pool.results([4]) == {4: b"D"}  # the replacement works


def test_a_worker_killed_mid_message_is_replaced_and_the_message_done_again():
    with ParserPool(1, target=TARGET, wall_seconds=60.0, preload=()) as pool:
        pool.submit([(1, b"a")])
        assert pool.results([1]) == {1: b"A"}  # the worker is up
        victim = pool.pids()[0]
        pool.submit([(2, b"slow"), (3, b"c")])
        os.kill(victim, signal.SIGKILL)

        assert pool.results([2, 3]) == {2: b"SLOW", 3: b"C"}
        assert pool.replaced == 1 and pool.pids()[0] != victim


def test_prepared_ahead_of_matching_the_kind_is_what_classify_gives_with_the_real_timing():
    sent = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    raws = [reply_bytes(None, "Merci."), reply_bytes(None, HUMAN),
            reply_bytes(None, "Nous avons bien reçu votre demande, nous vous répondrons sous 48 h."),
            # Exchange's automatic-reply headers turn the instant reading out-of-office too.
            reply_bytes(None, "Merci.", subject="Réponse automatique : commande",
                        headers={"X-Auto-Response-Suppress": "All", "Auto-Submitted": "auto-replied"})]
    for raw in raws:
        prepared = prepare(raw)
        msg = parse_message(raw)
        for sent_at, delay in [(sent, timedelta(seconds=20)), (sent, timedelta(hours=3)),
                               (None, timedelta(seconds=20)), (sent, -timedelta(minutes=5))]:
            received = sent + delay
            in_order = sent_at is not None and sent_at <= received
            want = classify(msg, sent_at=sent_at if in_order else None, received_at=received)
            got = prepared.classification(sent_at, received)
            assert (got.kind, got.ticket_ref, got.language, got.redirect_to, got.notice) == (
                want.kind, want.ticket_ref, want.language, want.redirect_to, want.notice), raw
        # What a worker sends back (compact tuples) loads as the same Prepared.
        assert pickle.loads(pickle.dumps(prepared, pickle.HIGHEST_PROTOCOL)) == prepared
    # The short thank-you is the timing-dependent one: an auto-reply only when instant.
    quick = prepare(raws[0])
    assert quick.later is not None
    assert quick.classification(sent, sent + timedelta(seconds=20)).kind != \
        quick.classification(sent, sent + timedelta(hours=3)).kind
