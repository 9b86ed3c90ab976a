"""The analyst's queues over real HTTP: inbox assign/dismiss, low-confidence matches, impossible
delays; roles, hosts and sessions enforced by the real `qualibench review` server."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlmodel import select

from qualibench.evidence import record_evidence
from qualibench.models import Event, InboundMessage, Probe, Reply
from qualibench.review.server import is_loopback
from tests.plugins.review import (
    add_mail_reply,
    login_link,
    make_review_world,
    qb,
    raw_mail,
    start_review_server,
    stop_review_server,
)


def client_for(link: str, base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get(link)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post(link, data={"csrf": csrf}).status_code == 303
    return client


def csrf_of(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


@pytest.fixture
def analyst_world(tmp_path, db_url):
    world = make_review_world(tmp_path, db_url, brands=1)
    ws = world.ws
    with ws.session() as s:
        cid = ws.campaign(s).id
        probes = s.exec(select(Probe).order_by(Probe.id)).all()
        unmatched = []
        for n, subject in enumerate(("Newsletter de Noël", "Re: votre demande")):
            raw = raw_mail("news@brand.example", "someone@shopper.example", subject, f"Texte {n}")
            digest = record_evidence(s, ws.evidence, raw, "message/rfc822", ws.clock)
            msg = InboundMessage(campaign_id=cid, sha256=digest, size=len(raw), status="unmatched",
                                 subject=subject, from_address="news@brand.example",
                                 received_at=probes[0].sent_at, collected_at=probes[0].sent_at)
            s.add(msg)
            s.flush()
            unmatched.append(msg.id)
        low = add_mail_reply(ws, s, probes[1], "Bonjour, voici la réponse.", 50, confidence=0.5, needs_review=True).id
        late = add_mail_reply(ws, s, probes[2], "Réponse datée avant la demande.", 51)
        late.delay_review = "pending"
        s.add(late)
        target_key = probes[0].key
    server = start_review_server(world)
    yield world, server, unmatched, low, late.id, target_key
    stop_review_server(server)


def test_the_analyst_clears_the_inbox_and_the_review_queues(analyst_world):
    world, server, unmatched, low, late, target_key = analyst_world
    al = client_for(login_link(world, "al", "analyst", server.base), server.base)
    inbox = al.get("/inbox").text
    assert all(f'id="inbound-{i}"' in inbox for i in unmatched)
    token = csrf_of(al, "/inbox")
    assert al.post(f"/inbox/{unmatched[0]}/dismiss", data={"csrf": token, "why": "newsletter"}).status_code == 303
    assert al.post(f"/inbox/{unmatched[1]}/assign", data={"csrf": token, "probe": target_key}).status_code == 303
    refused = al.post(f"/inbox/{unmatched[1]}/assign", data={"csrf": token, "probe": target_key})
    assert refused.status_code == 400 and "already" in refused.text  # one-line error, on the page
    matches = al.get("/matches").text
    assert f'id="reply-{low}"' in matches and f'id="reply-{late}"' in matches
    assert "subject_window at 0.50" in matches and "impossible delay" in matches
    token = csrf_of(al, "/matches")
    assert al.post(f"/matches/{low}", data={"csrf": token, "action": "confirm"}).status_code == 303
    assert al.post(f"/matches/{late}", data={"csrf": token, "action": "keep"}).status_code == 303
    after = al.get("/matches").text
    assert f'id="reply-{low}"' not in after and f'id="reply-{late}"' not in after
    with world.ws.session() as s:
        assert s.get(InboundMessage, unmatched[0]).status == "dismissed"
        assigned = s.exec(select(Reply).where(Reply.inbound_id == unmatched[1])).one()
        assert assigned.match_method == "manual"
        assert s.get(Reply, low).needs_review is False and s.get(Reply, late).delay_review == "kept"
        events = {e.kind: e for e in s.exec(select(Event))}
    assert events["inbox.dismissed"].payload == {"analyst": "al", "why": "newsletter"}
    assert events["inbox.assigned"].payload["analyst"] == "al"
    assert events["match.confirmed"].payload["analyst"] == "al"
    assert events["reply.delay_decided"].payload["by"] == "al"
    verified = qb(world, "verify", check=False)  # the event chain and the facts it fingerprints
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_roles_hosts_and_sessions_are_enforced(analyst_world):
    world, server, unmatched, low, *_ = analyst_world
    anonymous = httpx.Client(base_url=server.base)
    assert anonymous.get("/inbox").headers["location"] == "/login"
    assert anonymous.get("/queue").status_code == 303
    forged_cookie = httpx.Client(base_url=server.base, cookies={"qb_review": "eyJyaWQiOiAxfQ==.forged"})
    assert forged_cookie.get("/inbox").status_code == 303  # an unsigned session is no session
    assert anonymous.get("/inbox", headers={"Host": "evil.example"}).status_code == 400  # DNS rebinding
    ana = client_for(login_link(world, "ana", "auditor", server.base), server.base)
    assert ana.get("/inbox").status_code == 403
    assert ana.get(f"/reply/{low}").status_code == 404  # not in her queue
    token = csrf_of(ana, "/queue")
    assert ana.post(f"/inbox/{unmatched[0]}/dismiss", data={"csrf": token, "why": "x"}).status_code == 403
    cross = ana.post("/logout", data={"csrf": token}, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    spent = httpx.Client(base_url=server.base)
    link = login_link(world, "bo", "analyst", server.base)
    client_for(link, server.base)
    page = spent.get(link)
    again = spent.post(link, data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)})
    assert again.status_code == 401 and "already used" in again.text
    assert ana.get("/queue").status_code == 200
    qb(world, "review", "disable", "ana")
    assert ana.get("/queue").status_code == 303  # her signed cookie no longer opens a session


def test_only_loopback_addresses_count_as_local():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("example.org")
