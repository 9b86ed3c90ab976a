"""Fixtures of the scorer and audit tests: a planned campaign whose probes got replies of every kind."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from qualibench.models import Brand, InboundMessage, Probe, Reply, Scenario

SCORING_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scoring"

# One writing style per brand, so that rubrics rank the brands differently.
STYLE_BY_BRAND_INDEX = ("substance", "courtesy", "hollow")
POLITENESS_ONLY_RUBRIC = """\
name: politeness-only
lexicons: {fr: fr, en: en}
criteria:
  relevance: {weight: 0}
  reformulation: {weight: 0}
  empathy: {weight: 0}
  personalisation: {weight: 0}
  politeness: {weight: 100, greeting: 0.3, thanks: 0.3, closing: 0.4}
"""


def reply_text(style: str, scenario_spec: dict, first_name: str) -> str:
    """Return a reply in `style` to a scenario (substance names every key point's first pattern)."""
    if style == "substance":
        points = ", ".join(str(kp["patterns"][0]) for kp in scenario_spec.get("key_points", []))
        return f"Réponse : {points}."
    if style == "courtesy":
        return f"Bonjour {first_name},\n\nMerci pour votre message.\n\nCordialement,\nSophie"
    return "Bonjour,\n\nNous avons bien reçu votre message.\n\nCordialement,\nLe service clients"


def add_reply(session, probe: Probe, kind: str, text: str, n: int) -> Reply:
    """Record an inbound message and its reply of `kind` to `probe`; return the reply."""
    at = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(hours=n)
    inbound = InboundMessage(campaign_id=probe.campaign_id, sha256=hashlib.sha256(f"{n}:{text}".encode()).hexdigest(),
                             received_at=at, collected_at=at, status="matched", subject="Re: test")
    session.add(inbound)
    session.flush()
    reply = Reply(campaign_id=probe.campaign_id, inbound_id=inbound.id, probe_id=probe.id, kind=kind,
                  match_method="reply_address", received_at=at, text=text)
    session.add(reply)
    session.flush()
    return reply


@pytest.fixture
def replied_campaign(tmp_path, db_url):
    """A planned 3-brand campaign where each probe got an answer in its brand's style, plus an
    acknowledgement, an out-of-office and a bounce that must never be scored as answers.

    Returns (workspace, {"answers": [reply ids], "others": [reply ids]}).
    """
    from tests.factories import make_campaign

    ws = make_campaign(tmp_path, db_url, brands=3)
    ids: dict[str, list[int]] = {"answers": [], "others": []}
    with ws.session() as s:
        brands = s.exec(select(Brand).order_by(Brand.id)).all()
        style = {b.id: STYLE_BY_BRAND_INDEX[i % 3] for i, b in enumerate(brands)}
        scenarios = {sc.id: sc.spec for sc in s.exec(select(Scenario))}
        probes = s.exec(select(Probe).order_by(Probe.id)).all()
        n = 0
        for probe in probes:
            n += 1
            text = reply_text(style[probe.brand_id], scenarios[probe.scenario_id], "Marie")
            ids["answers"].append(add_reply(s, probe, "answer", text, n).id)
        for kind, probe in zip(("auto_ack", "out_of_office", "bounce"), probes, strict=False):
            n += 1
            ids["others"].append(add_reply(s, probe, kind, "Nous avons bien reçu votre message.", n).id)
    return ws, ids
