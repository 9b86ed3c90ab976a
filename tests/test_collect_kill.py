"""A first collect stopped dead at a random point, then run again: every message is recorded
once, and the raw evidence and the event log verify.

A first collect writes each message's row once, in its final state, in the transaction that
moves the folder's SyncState past it (qualibench.fresh_mail); the raw bytes are durable in the
evidence store before any parsing. A kill -9 can only land between two statements, and a
transaction it interrupts leaves nothing: so the states a kill can leave are those after each
durable write and each commit. The run is stopped at one of them, chosen at random (printed
with the seed on failure); a real kill -9 of a collect runs in tests/resilience/test_team_collect.py.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlmodel import select

from qualibench import fresh_mail, processing
from qualibench.collecting import collect
from qualibench.models import InboundMessage, Reply, SyncState
from qualibench.verify import verify_campaign
from tests.plugins.collecting import HUMAN, SHOPPER, reply_bytes

pytestmark = pytest.mark.integration

MESSAGES = 90


class Killed(BaseException):
    """What stops the run dead (BaseException: no handler of the collector catches it)."""


def test_a_first_collect_stopped_at_a_random_point_is_completed_by_a_rerun(
        dovecot_server, sent_campaign, monkeypatch):
    ws, probes = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password, brands=4)
    box = dovecot_server.maildir(SHOPPER, "INBOX")
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    for i in range(MESSAGES):  # (written at once: deliver() hands the whole tree back each time)
        p = probes[i % len(probes)]
        path = box / "new" / f"{i}.qbkill"
        path.write_bytes(reply_bytes(p, f"{HUMAN}\n\nRéponse {i}.", date=p.sent_at + timedelta(hours=1)))
    dovecot_server.fix_owner()
    monkeypatch.setattr(processing, "BATCH_SIZE", 20)  # several chunks a fetched batch
    monkeypatch.setattr("qualibench.mail.imap.BATCH_MESSAGES", 30)  # several fetched batches
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    # Where: after the k-th batch's bytes are durable, or before / after the k-th chunk commits.
    where, k = rng.choice(["stored", "recording", "committed"]), rng.randrange(1, 4)
    calls = {"stored": 0, "recording": 0, "committed": 0}

    def stop_at(name, original):
        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs) if name != "recording" else None
            calls[name] += 1
            if calls[name] == k and where == name:
                raise Killed
            return original(*args, **kwargs) if name == "recording" else result
        return wrapped

    originals = {name: getattr(fresh_mail.FreshMail, name) for name in ("take", "record", "settle")}
    for name, stop in (("take", "stored"), ("record", "recording"), ("settle", "committed")):
        monkeypatch.setattr(fresh_mail.FreshMail, name, stop_at(stop, originals[name]))
    with pytest.raises(Killed):
        collect(ws)
    with ws.session() as s:
        left = (len(s.exec(select(InboundMessage.id)).all()), s.exec(select(SyncState.last_uid)).all())
    for name, original in originals.items():
        monkeypatch.setattr(fresh_mail.FreshMail, name, original)

    report = collect(ws)

    why = (seed, where, k, left)
    assert report.matched + left[0] >= MESSAGES, why
    with ws.session() as s:
        rows = list(s.exec(select(InboundMessage.sha256, InboundMessage.status, InboundMessage.message_id)))
        replies = list(s.exec(select(Reply.inbound_id)))
    assert len(rows) == len({sha for sha, _, _ in rows}) == len({m for _, _, m in rows}) == MESSAGES, why
    assert {status for _, status, _ in rows} == {"matched"} and len(set(replies)) == MESSAGES, why
    assert verify_campaign(ws).problems == [], why
