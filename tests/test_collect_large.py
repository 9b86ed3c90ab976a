"""A 60 MB mail through `qualibench collect` (the console script): fetched in pieces straight into
the evidence store, parsed in a worker from the stored copy, and the collector stays under 150 MB
on either store (folder on SQLite, database on PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import select

from qualibench.models import InboundMessage, Reply
from tests.plugins.collecting import HUMAN, SHOPPER, reply_bytes

pytestmark = pytest.mark.integration

ATTACHMENT = 45 * 1024 * 1024  # 60 MB once in base64
# Runs the command and writes its exit code and peak resident memory (wait4). Started from this
# small process rather than from the test runner: a child forked from a big process counts the
# parent's pages in its peak until it execs.
_MEASURED = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[2:]); "
             "_, st, ru = os.wait4(p.pid, 0); "
             "open(sys.argv[1], 'w').write(f'{os.waitstatus_to_exitcode(st)} {ru.ru_maxrss}')")


def _big_reply(probe) -> bytes:
    head = reply_bytes(probe, HUMAN).decode()
    boundary = "qb-large-boundary"
    headers, body = head.split("\n\n", 1)
    headers = "\n".join(line for line in headers.split("\n")
                        if not line.lower().startswith(("content-type", "content-transfer", "mime-version")))
    blob = base64.encodebytes(os.urandom(ATTACHMENT))  # 76-character lines, as mailers write
    return (f"{headers}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"{boundary}\"\n\n"
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{HUMAN}\n\n"
            f"--{boundary}\nContent-Type: application/pdf; name=\"facture.pdf\"\n"
            "Content-Disposition: attachment; filename=\"facture.pdf\"\n"
            "Content-Transfer-Encoding: base64\n\n").encode() + blob + f"\n--{boundary}--\n".encode()


def test_a_60_mb_mail_is_collected_whole_with_the_collector_under_150_mb(dovecot_server,
                                                                          sent_campaign):
    ws, probes = sent_campaign(dovecot_server.host, dovecot_server.port, dovecot_server.password)
    raw = _big_reply(probes[0])
    assert len(raw) > 60_000_000
    digest = hashlib.sha256(raw.replace(b"\n", b"\r\n")).hexdigest()  # as IMAP serves it
    dovecot_server.deliver(SHOPPER, raw)
    del raw
    exe = shutil.which("qualibench", path=str(Path(sys.executable).parent))
    assert exe, "the console script is installed beside this Python"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    with open(ws.root / "out.json", "wb") as out_fh, open(ws.root / "err.txt", "wb") as err_fh:
        subprocess.run([sys.executable, "-c", _MEASURED, str(ws.root / "usage"), exe, "-C",
                        str(ws.root), "--db", ws.db_url, "collect", "--json"],
                       env=env, stdout=out_fh, stderr=err_fh, timeout=240, check=False)
    out, err = (ws.root / "out.json").read_bytes(), (ws.root / "err.txt").read_bytes()
    code, peak_kb = map(int, (ws.root / "usage").read_text().split())
    assert code == 0, err.decode()[-2000:]

    report = json.loads(out)
    assert report["new"] == 1 and report["matched"] == 1 and report["unparseable"] == 0
    with ws.session() as s:
        inbound = s.exec(select(InboundMessage)).one()
        reply = s.exec(select(Reply)).one()
    assert inbound.sha256 == digest and inbound.size > 60_000_000
    assert ws.evidence.verify(digest)  # stored whole, byte for byte
    assert "remboursement" in reply.text
    assert "facture.pdf" in (inbound.parse_error or "") or reply.kind == "answer"
    assert peak_kb / 1024 < 150, f"peak {peak_kb / 1024:.0f} MB"


def test_the_database_store_keeps_a_streamed_mail_in_parts_and_gives_it_back_whole(db_url,
                                                                                  monkeypatch):
    import io

    from sqlmodel import Session

    import qualibench.evidence as evidence
    from qualibench.db import get_engine
    from qualibench.models import EvidenceBlob

    monkeypatch.setattr(evidence, "PART_BYTES", 1000)
    store = evidence.DatabaseEvidenceStore(get_engine(db_url))
    data = os.urandom(3500)
    pieces = [data[i:i + 700] for i in range(0, len(data), 700)]

    digest, size = store.put_stream(iter(pieces))
    again = store.put_stream(iter([data]))  # the same bytes twice: one copy kept

    assert (digest, size) == again == (hashlib.sha256(data).hexdigest(), 3500)
    assert store.get(digest) == data and store.get_many([digest]) == {digest: data}
    assert store.exists(digest) and store.verify(digest)
    copy = io.BytesIO()
    assert store.copy_to(digest, copy) == 3500 and copy.getvalue() == data
    with Session(store.engine) as s:
        names = sorted(s.exec(select(EvidenceBlob.sha256)))
    assert names == [digest, *(f"{digest}.part{k:05d}" for k in range(4))]  # no temporary left
    small = b"an ordinary mail"
    assert store.get(store.put(small)) == small
