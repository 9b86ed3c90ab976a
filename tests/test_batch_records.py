"""A batch of messages is written in one flush: every reply still gets its own reply.recorded
event naming it, the chain verifies, and the database store reads a batch's raw mail at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from qualibench.collecting import ingest_raw
from qualibench.errors import QualibenchError
from qualibench.events import GENESIS, _digest
from qualibench.evidence import DatabaseEvidenceStore, sha256_hex
from qualibench.models import Event, Reply
from qualibench.processing import process_pending
from qualibench.verify import verify_campaign
from tests.plugins.collecting import HUMAN, reply_bytes


def test_each_reply_of_a_batch_has_its_event_and_the_chain_verifies(sent_campaign):
    ws, probes = sent_campaign(brands=3)
    with ws.session() as s:
        cid = ws.campaign(s).id
        for i in range(7):
            probe = probes[i % len(probes)]
            ingest_raw(ws, s, cid, reply_bytes(probe, f"{HUMAN}\n{i}"), channel="email",
                       source="t", source_ref=str(i),
                       received_at=probes[0].sent_at + timedelta(hours=1, minutes=i))

    report = process_pending(ws, cid)

    assert report.matched == 7
    with ws.session() as s:
        replies = {r.id: r.inbound_id for r in s.exec(select(Reply))}
        events = list(s.exec(select(Event).where(Event.kind == "reply.recorded")
                             .order_by(col(Event.seq))))
    assert len(replies) == 7 and None not in replies
    # Named at commit, once the batch's flush gave the replies their ids.
    assert sorted(e.subject for e in events) == sorted(f"reply:{i}" for i in replies)
    assert {int(e.subject.split(":")[1]): e.payload["inbound"] for e in events} == replies
    # Written in one INSERT per commit, the chain is the one event-by-event appends would
    # give: rows in chain order, each hash the digest of its own row and its predecessor's.
    with ws.session() as s:
        chain = list(s.exec(select(Event).where(Event.campaign_id == cid).order_by(col(Event.seq))))
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert [e.id for e in chain] == sorted(e.id for e in chain)
    prev = GENESIS
    for e in chain:
        assert (e.prev_hash, e.hash) == (prev, _digest(prev, e.seq, e.at, e.kind, e.subject, e.payload))
        prev = e.hash
    outcome = verify_campaign(ws)
    assert outcome.problems == []
    assert outcome.facts_checked >= 7


def test_the_database_store_reads_many_digests_at_once_and_names_a_missing_one(db_url):
    from qualibench.db import get_engine

    engine = get_engine(db_url)  # migrated to the current schema
    store = DatabaseEvidenceStore(engine)
    blobs = [f"message {i}".encode() * (i + 1) for i in range(250)]
    digests = store.put_many(blobs)

    got = store.get_many(digests + digests[:3])  # repeats are read once

    assert got == {sha256_hex(b): b for b in blobs}
    with pytest.raises(QualibenchError, match="is missing from the database"):
        store.get_many([digests[0], "0" * 64])


def test_a_folder_store_batch_is_written_durably_and_a_missing_disk_is_a_clear_error(tmp_path):
    """put_many appends a batch to one pack file (synced before it returns): every digest
    reads back; a store whose folder cannot be written says what to do, one line."""
    from qualibench.errors import QualibenchError
    from qualibench.evidence import EvidenceStore, sync_filesystem

    store = EvidenceStore(tmp_path / "evidence")
    blobs = [f"message {i}".encode() for i in range(5)]
    digests = store.put_many(blobs + blobs[:2])  # the same bytes twice in a batch: stored once
    assert [store.get(d) for d in digests] == blobs + blobs[:2]
    assert not list((tmp_path / "evidence").rglob(".tmp-*"))
    assert sorted(p.name for p in (tmp_path / "evidence").rglob("*") if p.is_file()) == [
        ".lock", "000001.idx", "000001.pack"]
    assert (tmp_path / "evidence" / "packs" / "000001.pack").read_bytes().count(b"QBE1 ") == 5
    sync_filesystem(tmp_path)  # the file system of a real folder flushes without error
    with pytest.raises(FileNotFoundError):
        sync_filesystem(tmp_path / "no such folder")
    gone = EvidenceStore(tmp_path / "file-not-folder")
    (tmp_path / "file-not-folder").write_bytes(b"")
    with pytest.raises(QualibenchError, match="cannot write raw evidence"):
        gone.put_many([b"x"])
