"""The batched second pass of collect: batches, worker processes, one bad message set aside."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from qualibench.collecting import ingest_raw
from qualibench.models import InboundMessage, InboundStatus, Reply
from tests.plugins.collecting import HUMAN, reply_bytes

_TEMPLATE_LINE = "Nos boutiques Nexaline accueillent les familles depuis 1982."
TEMPLATE_LINE = ("Bonjour,\n\nVotre message a bien été reçu. Un conseiller vous répondra.\n\n"
                 f"{_TEMPLATE_LINE}\n\nService client")


def _store(ws, probes, bodies):
    with ws.session() as s:
        cid = ws.campaign(s).id
        for i, body in enumerate(bodies):
            raw = body if isinstance(body, bytes) else reply_bytes(probes[i % len(probes)], body)
            ingest_raw(ws, s, cid, raw, channel="email", source="t", source_ref=str(i),
                       received_at=probes[0].sent_at + timedelta(hours=1, minutes=i))
    return cid


def _outcome(ws):
    with ws.session() as s:
        statuses = [m.status for m in s.exec(select(InboundMessage).order_by(col(InboundMessage.id)))]
        texts = sorted((r.inbound_id, r.text, r.signature) for r in s.exec(select(Reply)))
    return statuses, texts


@pytest.mark.parametrize("workers", ["0", "2"])
def test_batches_in_process_and_in_workers_record_the_same_replies(sent_campaign, monkeypatch,
                                                                   workers):
    import qualibench.preparing as preparing
    import qualibench.processing as processing

    ws, probes = sent_campaign(brands=3)
    monkeypatch.setenv("QUALIBENCH_PARSE_WORKERS", workers)
    monkeypatch.setattr(processing, "BATCH_SIZE", 2)  # several batches: the next one is parsed ahead
    if workers != "0":  # prove the worker processes parse: the in-process path must not run
        monkeypatch.setattr(preparing, "prepare_stored", None)
    bodies = [HUMAN, f"Bonjour,\n\nC'est réglé.\n\nCordialement,\nLéa {workers}",
              bytes(range(32)) * 10, HUMAN + "\n\nLe 3 mars, Marie a écrit :\n> question", "Merci.",
              # beside a receipt, a line of the brand's template (known by the request it shares nothing
              # with) and a line of the case (an amount)
              TEMPLATE_LINE, TEMPLATE_LINE.replace(_TEMPLATE_LINE, "Le remboursement de 24,90 € part aujourd'hui.")]
    cid = _store(ws, probes, bodies)

    report = processing.process_pending(ws, cid)

    assert (report.processed, report.matched, report.unparseable) == (7, 6, 1)
    statuses, texts = _outcome(ws)
    assert statuses.count(InboundStatus.MATCHED.value) == 6
    with ws.session() as s:
        kinds = {line: r.kind for r in s.exec(select(Reply)) for line in r.text.splitlines() if "Nexa" in line
                 or "24,90" in line}
    assert kinds == {_TEMPLATE_LINE: "auto_ack", "Le remboursement de 24,90 € part aujourd'hui.": "answer"}
    assert statuses[2] == InboundStatus.UNPARSEABLE.value  # the binary garbage, raw kept
    by_text = {t for _, t, _ in texts}
    assert "Bonjour,\n\nC'est réglé.\n\nCordialement," in by_text  # closing kept for scoring
    assert f"Léa {workers}" in {sig for _, _, sig in texts}
    assert not any("a écrit" in t for t in by_text)
