"""The webform channel against the fake brand site on loopback (real HTTP, real cookies)."""

from __future__ import annotations

import json
import socket

import httpx
import respx
from sqlmodel import select

from qualibench.channels.webform import WebFormChannel
from qualibench.models import Evidence, Probe


def _contact(site, slug, kind="standard"):
    site.add_brand(slug, kind)
    return site.contact_url(slug)


def _send(world, probe_id, channel=None):
    channel = channel or WebFormChannel()
    with world.ws.session() as s:
        probe, brand, persona = world.rows(s, probe_id)
        result = channel.send(world.ws, probe, brand, persona)
        s.add(probe)
    return result


def test_form_reached_from_the_home_page_is_submitted_with_the_reply_alias(brand_site, probe_world):
    home = brand_site.add_brand("fnac", "standard")
    pid = probe_world.probe("webform", home)
    before = probe_world.clock.now()
    result = _send(probe_world, pid)

    assert result.outcome == "sent", result.detail
    assert "bien été envoyé" in result.detail
    assert result.sent_at is not None and (result.sent_at - before).total_seconds() >= 20
    [sub] = brand_site.submissions
    assert sub.email == "claire.1x7@replies.test"
    assert sub.fields["prenom"] == "Claire" and sub.fields["nom"] == "Martin"
    assert sub.fields["objet"] == "livraison"
    assert sub.fields["num_commande"] == "CMD-482913"
    assert sub.fields["message"].startswith("Bonjour, j'ai passé la commande")
    assert result.evidence["accessibility"]["clicks_from_start"] == 2
    assert result.evidence["accessibility"]["clicks_from_home"] == 2
    assert result.evidence["final_url"].endswith("/fnac/merci")


def test_the_home_page_walk_is_made_once_per_form_page_and_run(brand_site, probe_world):
    """A brand's second probe of the run reuses the first one's clicks-from-home figure (and
    names the probe whose evidence holds the pages walked) instead of walking its site again."""
    url = _contact(brand_site, "boulanger")
    first, second = (probe_world.probe("webform", url, brand_key=f"boulanger{i}") for i in (1, 2))
    channel = WebFormChannel()
    one = _send(probe_world, first, channel)
    walked = len(brand_site.requests)
    two = _send(probe_world, second, channel)
    assert one.outcome == two.outcome == "sent", (one.detail, two.detail)
    a, b = one.evidence["accessibility"], two.evidence["accessibility"]
    assert a["clicks_from_home"] == b["clicks_from_home"] == 2
    assert b["home_page"] == a["home_page"]
    assert b["clicks_from_home_measured_by"].startswith("w1:boulanger1:")
    home_gets = lambda reqs: [r for r in reqs if r == ("GET", "/boulanger/")]  # noqa: E731
    assert len(home_gets(brand_site.requests[:walked])) == 1
    assert home_gets(brand_site.requests[walked:]) == []
    fresh = _send(probe_world, probe_world.probe("webform", url, brand_key="boulanger3"))
    assert "clicks_from_home_measured_by" not in fresh.evidence["accessibility"]  # a new run


def test_the_exchange_is_stored_as_evidence_without_the_session_token(brand_site, probe_world):
    url = _contact(brand_site, "darty")
    pid = probe_world.probe("webform", url)
    result = _send(probe_world, pid)
    assert result.outcome == "sent"
    record = json.loads(probe_world.ws.evidence.get(result.evidence_sha256))
    sent_fields = record["steps"][0]["request"]["fields"]
    assert sent_fields["csrf_token"].startswith("<hidden value")
    assert sent_fields["email"] == "claire.1x7@replies.test"
    assert record["confirmation"].startswith("Merci, votre message a bien été envoyé")
    assert record["accessibility"]["clicks_from_start"] == 0
    # given the form's URL, the channel still measures how far it is from the home page
    assert record["accessibility"]["clicks_from_home"] == 2
    assert record["accessibility"]["home_page"].endswith("/darty/")
    with probe_world.ws.session() as s:
        probe = s.get(Probe, pid)
        assert probe.dispatch["evidence"] == result.evidence_sha256
        indexed = {e.sha256 for e in s.exec(select(Evidence))}
    assert result.evidence_sha256 in indexed
    assert set(record["raw_sha256"]) <= indexed
    # the raw confirmation page itself is kept
    last_page = probe_world.ws.evidence.get(record["steps"][0]["response_sha256"]).decode()
    assert "bien été envoyé" in last_page


def test_multistep_form_is_followed_to_the_end(brand_site, probe_world):
    pid = probe_world.probe("webform", _contact(brand_site, "sncf", "multistep"))
    result = _send(probe_world, pid)
    assert result.outcome == "sent", result.detail
    assert result.evidence["accessibility"]["steps"] == 2
    [sub] = brand_site.submissions
    assert sub.fields["courriel"] == "claire.1x7@replies.test"
    assert sub.fields["motif"] == "livraison"


def test_multipart_and_english_forms_are_sent(brand_site, probe_world):
    a = probe_world.probe("webform", _contact(brand_site, "mp", "multipart"))
    b = probe_world.probe("webform", _contact(brand_site, "en", "english"))
    assert _send(probe_world, a).outcome == "sent"
    result_en = _send(probe_world, b)
    assert result_en.outcome == "sent"
    assert "Thank you" in result_en.detail
    assert [s.brand for s in brand_site.submissions] == ["mp", "en"]
    # accented text survives multipart encoding (parts carry no charset: UTF-8 is implied)
    mp_values = " ".join(brand_site.submissions[0].fields.values())
    assert "passé la commande" in mp_values and "\ufffd" not in mp_values
    assert brand_site.submissions[1].fields["topic"] == "delivery"


def test_blocked_forms_go_to_the_assisted_queue_with_the_reason(brand_site, probe_world):
    reasons = {}
    for kind in ("captcha", "jsonly", "login", "customer"):
        pid = probe_world.probe("webform", _contact(brand_site, kind, kind))
        result = _send(probe_world, pid)
        assert result.outcome == "assisted", (kind, result.detail)
        reasons[kind] = result
    assert reasons["captcha"].detail.startswith("captcha")
    assert reasons["captcha"].evidence["accessibility"]["captcha"] is True
    assert reasons["captcha"].evidence["accessibility"]["clicks_from_home"] == 2
    assert "JavaScript" in reasons["jsonly"].detail
    assert reasons["login"].detail.startswith("login wall")
    assert "Numéro client" in reasons["customer"].detail
    assert reasons["customer"].evidence["accessibility"]["customer_number_required"] is True
    assert brand_site.submissions == []
    assert not any(m == "POST" for m, _ in brand_site.requests)


def test_brand_error_message_fails_the_probe_with_its_words(brand_site, probe_world):
    pid = probe_world.probe("webform", _contact(brand_site, "refuse", "refuse"))
    result = _send(probe_world, pid)
    assert result.outcome == "failed"
    assert "votre demande n'a pas pu être traitée" in result.detail


def test_page_without_confirmation_fails(brand_site, probe_world):
    pid = probe_world.probe("webform", _contact(brand_site, "silent", "silent"))
    result = _send(probe_world, pid)
    assert result.outcome == "failed"
    assert result.detail.startswith("no confirmation")


def test_server_error_is_retried_then_failed(brand_site, probe_world):
    pid = probe_world.probe("webform", _contact(brand_site, "broken", "broken"))
    first = _send(probe_world, pid)
    assert first.outcome == "retry" and "HTTP 500" in first.detail
    with probe_world.ws.session() as s:
        s.get(Probe, pid).attempts = 3
    last = _send(probe_world, pid)
    assert last.outcome == "failed" and "HTTP 500" in last.detail


def test_unreachable_site_is_a_retry(probe_world):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    pid = probe_world.probe("webform", f"http://127.0.0.1:{port}/contact")
    result = _send(probe_world, pid)
    assert result.outcome == "retry"
    assert "cannot reach" in result.detail


def test_brand_mapping_override_is_used(probe_world):
    page = ("<form method='post' action='/send'><input name='a1' placeholder='Identité'>"
            "<input name='zz'><textarea name='t'></textarea></form>")
    with respx.mock(assert_all_called=True) as mock:
        mock.get("http://odd.test/contact").mock(return_value=httpx.Response(200, html=page))
        mock.get("http://odd.test/").mock(return_value=httpx.Response(404))
        post = mock.post("http://odd.test/send").mock(
            return_value=httpx.Response(200, html="<p>Merci, message bien reçu.</p>"))
        pid = probe_world.probe("webform", "http://odd.test/contact",
                                form_mapping={"email": "zz", "full_name": "a1"})
        result = _send(probe_world, pid)
    assert result.outcome == "sent"
    body = dict(httpx.QueryParams(post.calls.last.request.content.decode()))
    assert body == {"a1": "Claire Martin", "zz": "claire.1x7@replies.test", "t": body["t"]}
    assert body["t"].startswith("Bonjour")


def test_form_without_email_field_fails_with_the_fix(probe_world):
    page = "<form method='post'><input name='q1'><input name='q2'><textarea name='t'></textarea></form>"
    with respx.mock:
        respx.get("http://noemail.test/c").mock(return_value=httpx.Response(200, html=page))
        respx.get("http://noemail.test/").mock(return_value=httpx.Response(200, html="<p>Accueil</p>"))
        pid = probe_world.probe("webform", "http://noemail.test/c")
        result = _send(probe_world, pid)
    assert result.outcome == "failed"
    assert "form_mapping" in result.detail
