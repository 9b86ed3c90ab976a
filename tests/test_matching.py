"""Matching an inbound message to its probe: keys in order, with method and confidence."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from qualibench.collecting import ingest_raw, process_inbound
from qualibench.matching import brand_domains, registrable_domain
from qualibench.models import Brand, InboundMessage, InboundStatus, MatchMethod, Probe, Reply
from tests.plugins.collecting import HUMAN, reply_bytes


@pytest.fixture
def campaign(sent_campaign):
    return sent_campaign(brands=2)


def _process(ws, raw, received_at):
    with ws.session() as s:
        cid = ws.campaign(s).id
        inbound = ingest_raw(ws, s, cid, raw, channel="email", source="test", source_ref="1",
                             received_at=received_at)
        reply = process_inbound(ws, s, inbound)
        return (reply.probe_id, reply.match_method, reply.match_confidence, reply.needs_review) \
            if reply else None, inbound.status


def test_reply_address_wins_over_message_id_of_another_probe(campaign):
    ws, probes = campaign
    a, b = probes[0], probes[1]
    raw = reply_bytes(a, HUMAN, in_reply_to=False, headers={"In-Reply-To": b.message_id})
    (probe_id, method, confidence, review), status = _process(ws, raw, a.sent_at + timedelta(hours=2))
    assert (probe_id, method, confidence, review) == (a.id, MatchMethod.REPLY_ADDRESS, 1.0, False)
    assert status == InboundStatus.MATCHED


def test_message_id_in_references_when_the_alias_is_lost(campaign):
    ws, probes = campaign
    p = probes[2]
    raw = reply_bytes(p, HUMAN, to="contact@shop.test", in_reply_to=False,
                      headers={"References": f"<other@x.test> {p.message_id}"})
    (probe_id, method, confidence, review), _ = _process(ws, raw, p.sent_at + timedelta(hours=2))
    assert probe_id == p.id and method == MatchMethod.MESSAGE_ID and 0.9 < confidence < 1.0


def test_subject_and_window_match_is_low_confidence_and_queued_for_review(campaign):
    ws, probes = campaign
    p = probes[0]
    raw = reply_bytes(p, HUMAN, to="contact@shop.test", in_reply_to=False,
                      subject=f"Réf : {p.subject}", sender=f"agent@support.{p.brand_email.split('@')[1]}")
    (probe_id, method, confidence, review), _ = _process(ws, raw, p.sent_at + timedelta(days=1))
    assert probe_id == p.id and method == MatchMethod.SUBJECT_WINDOW
    assert confidence < 0.5 and review is True


def test_same_subject_before_the_probe_was_sent_is_not_matched(campaign):
    ws, probes = campaign
    p = probes[0]
    raw = reply_bytes(p, HUMAN, to="contact@shop.test", in_reply_to=False, subject=p.subject)
    match, status = _process(ws, raw, p.sent_at - timedelta(hours=1))
    assert match is None and status == InboundStatus.UNMATCHED


def test_unknown_sender_and_subject_stays_unmatched_and_is_kept(campaign):
    ws, _ = campaign
    raw = reply_bytes(None, "Newsletter", sender="promo@elsewhere.test", subject="Soldes")
    match, status = _process(ws, raw, None)
    assert match is None and status == InboundStatus.UNMATCHED
    with ws.session() as s:
        (row,) = s.exec(select(InboundMessage)).all()
        assert s.exec(select(Reply)).all() == []
    assert ws.evidence.get(row.sha256) == raw


def test_ticket_shared_by_two_brands_goes_to_the_sender_brand(campaign):
    ws, probes = campaign
    with ws.session() as s:
        brand_of = {p.id: s.get(Probe, p.id).brand_id for p in probes}
    a = probes[0]
    b = next(p for p in probes if brand_of[p.id] != brand_of[a.id])
    with ws.session() as s:
        for sp in (a, b):
            probe = s.get(Probe, sp.id)
            probe.ticket_ref = "4821"
            s.add(probe)
    raw = reply_bytes(b, HUMAN, to="contact@shop.test", in_reply_to=False,
                      subject="[Ticket #4821] RE: votre demande")
    (probe_id, method, _, _), _ = _process(ws, raw, b.sent_at + timedelta(hours=5))
    assert probe_id == b.id and method == MatchMethod.TICKET_REF


def test_ingest_is_idempotent_on_the_same_bytes(campaign):
    ws, probes = campaign
    raw = reply_bytes(probes[0], HUMAN)
    with ws.session() as s:
        cid = ws.campaign(s).id
        one = ingest_raw(ws, s, cid, raw, channel="email", source="a", source_ref="1", received_at=None)
        two = ingest_raw(ws, s, cid, raw, channel="email", source="b", source_ref="9", received_at=None)
        assert one.id == two.id
        assert len(s.exec(select(InboundMessage)).all()) == 1


def test_brand_domains_ignore_shared_social_networks():
    brand = Brand(campaign_id=1, key="b", name="B", contacts={
        "email": "service@mail.brand.fr", "webform": "https://www.brand.fr/contact",
        "facebook": "https://facebook.example/brand", "x": "@brand"})
    assert brand_domains(brand) == {"brand.fr"}
    assert registrable_domain("support.brand.co.uk") == "brand.co.uk"


def test_a_parser_crash_on_one_message_marks_it_unparseable_and_the_rest_go_on(campaign, monkeypatch):
    import qualibench.mail.prepare as prepare
    from qualibench.collecting import process_pending

    ws, probes = campaign
    real = prepare.parse_message

    def fragile(raw):
        if b"CRASH-ME" in raw:
            raise RuntimeError("parser bug")
        return real(raw)

    monkeypatch.setattr(prepare, "parse_message", fragile)
    with ws.session() as s:
        cid = ws.campaign(s).id
        for i, body in enumerate(["CRASH-ME", HUMAN]):
            ingest_raw(ws, s, cid, reply_bytes(probes[i], body), channel="email", source="t",
                       source_ref=str(i), received_at=probes[i].sent_at + timedelta(hours=1))

    report = process_pending(ws, cid)

    assert report.unparseable == 1 and report.matched == 1
    assert any("parser bug" in w for w in report.warnings)
    with ws.session() as s:
        bad = [r for r in s.exec(select(InboundMessage)).all() if r.status == InboundStatus.UNPARSEABLE]
    assert len(bad) == 1 and "RuntimeError" in bad[0].parse_error


def test_a_helpdesk_subdomain_is_matched_to_its_brand_by_the_public_suffix_list(campaign):
    # "sfr.fr" has a three-letter second label: the old two-label heuristic read it as a
    # "co.uk"-style suffix and never matched "support.sfr.fr" to the brand.
    ws, probes = campaign
    p = probes[0]
    with ws.session() as s:
        probe = s.get(Probe, p.id)
        brand = s.get(Brand, probe.brand_id)
        brand.contacts = {**brand.contacts, "email": "service@sfr.fr"}
        s.add(brand)
    assert registrable_domain("support.sfr.fr") == "sfr.fr"
    raw = reply_bytes(p, HUMAN, to="contact@shop.test", in_reply_to=False,
                      subject=f"RE: {p.subject}", sender="agent@support.sfr.fr")
    (probe_id, method, _, review), status = _process(ws, raw, p.sent_at + timedelta(days=1))
    assert (probe_id, method, review) == (p.id, MatchMethod.SUBJECT_WINDOW, True)
    assert status == InboundStatus.MATCHED


def test_the_probe_index_is_built_once_and_follows_what_changed_since(campaign):
    """One index per campaign, reused by later collects: a probe sent since is found by the
    subject window, a ticket set by someone else is known, a probe planned since is found by
    its reply address, a brand's new domain is read, and a ticket learnt in a transaction
    rolled back is forgotten."""
    from qualibench.matching import ProbeIndex

    ws, probes = campaign
    p, q = probes[0], probes[1]
    with ws.session() as s:
        cid = ws.campaign(s).id
        probe = s.get(Probe, p.id)
        probe.state, probe.sent_at = "planned", None  # not sent yet when the index is built
        s.add(probe)
    with ws.session() as s:
        first = ProbeIndex.cached(s, cid)
        assert ProbeIndex.cached(s, cid) is first
        first.learn_ticket(q.id, "LOST-1")  # its transaction is rolled back below
        s.rollback()
    with ws.session() as s:  # sent meanwhile, and an analyst gave another probe a ticket
        probe = s.get(Probe, p.id)
        probe.state, probe.sent_at = "sent", p.sent_at
        other = s.get(Probe, q.id)
        other.ticket_ref = "T-77"
        s.add_all([probe, other])
    reply = reply_bytes(p, HUMAN, to="contact@shop.test", in_reply_to=False,
                        subject=f"RE: {p.subject}")
    (probe_id, method, _, _), _ = _process(ws, reply, p.sent_at + timedelta(days=1))
    assert (probe_id, method) == (p.id, MatchMethod.SUBJECT_WINDOW)
    with ws.session() as s:
        again = ProbeIndex.cached(s, cid)
        assert again is first  # updated in place, not rebuilt
        assert again.tickets.get("T-77") == [q.id] and "LOST-1" not in again.tickets
        brand = s.get(Brand, s.get(Probe, q.id).brand_id)
        brand.contacts = {**brand.contacts, "website": "https://www.newname-brand.fr"}
        s.add(brand)
    with ws.session() as s:
        assert "newname-brand.fr" in ProbeIndex.cached(s, cid).brands_by_domain
        model = s.get(Probe, q.id)
        fresh = Probe(**{**model.model_dump(exclude={"id"}), "key": model.key + ":new",
                         "reply_address": "new.alias@shop.test", "message_id": "<new@shop.test>"})
        s.add(fresh)
        s.flush()
        fresh_id = fresh.id
    raw = reply_bytes(q, HUMAN, to="new.alias@shop.test", in_reply_to=False)
    (probe_id, method, _, _), _ = _process(ws, raw, q.sent_at + timedelta(hours=2))
    assert (probe_id, method) == (fresh_id, MatchMethod.REPLY_ADDRESS)
