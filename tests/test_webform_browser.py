"""The optional browser path: a contact form built by JavaScript, filled in headless Chromium."""

from __future__ import annotations

import json

import pytest

from qualibench.channels.browserform import browser_available
from qualibench.channels.webform import WebFormChannel

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not browser_available(),
                       reason="needs Playwright (pip install 'qualibench[browser]') and the chromium package"),
]


def test_javascript_form_is_sent_through_the_browser(brand_site, probe_world, monkeypatch):
    monkeypatch.setenv("QUALIBENCH_WEBFORM_BROWSER", "1")
    brand_site.add_brand("appco", "jsonly")
    pid = probe_world.probe("webform", brand_site.home_url("appco"))
    start = probe_world.clock.now()
    with probe_world.ws.session() as s:
        probe, brand, persona = probe_world.rows(s, pid)
        result = WebFormChannel().send(probe_world.ws, probe, brand, persona)
    assert result.outcome == "sent", result.detail
    assert "bien été envoyé" in result.detail
    assert (result.sent_at - start).total_seconds() >= 20  # the typing delay on the clock
    [sub] = brand_site.submissions
    assert sub.email == "claire.1x7@replies.test"
    assert sub.fields["objet"] == "livraison" and sub.fields["website"] == ""
    record = json.loads(probe_world.ws.evidence.get(result.evidence_sha256))
    assert record["browser"] is True
    assert record["accessibility"]["javascript_only"] is True
    assert record["accessibility"]["clicks_from_start"] == 2
    assert record["steps"][0]["request"]["fields"]["csrf_token"].startswith("<hidden value")
    assert "bien été envoyé" in probe_world.ws.evidence.get(record["steps"][0]["response_sha256"]).decode()


def test_captcha_seen_in_the_browser_still_goes_to_a_person(brand_site, probe_world):
    brand_site.add_brand("capco", "captcha")
    pid = probe_world.probe("webform", brand_site.contact_url("capco"))
    with probe_world.ws.session() as s:
        probe, brand, persona = probe_world.rows(s, pid)
        result = WebFormChannel(browser=True).send(probe_world.ws, probe, brand, persona)
    assert result.outcome == "assisted" and result.detail.startswith("captcha")
    assert brand_site.submissions == []


class _Server:
    """A loopback HTTP server answering `pages` (path -> HTML) and counting every request."""

    def __init__(self, pages: dict[str, str]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return

            def _answer(self) -> None:
                server.hits.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length", "0") or 0)
                if length:
                    self.rfile.read(length)
                body = pages.get(self.path.split("?")[0], "<p>ok</p>").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_the_browser_path_keeps_to_the_brands_hosts(probe_world):
    """A script-built form that posts to another host, with a pixel from there: the browser,
    like the plain-HTTP path, sends nothing outside the brand's hosts, and the brand fails."""
    outside = _Server({})
    form = (f"<form method='post' action='http://127.0.0.1:{outside.port}/steal'>"
            "<label for='n'>Nom</label><input id='n' name='nom' required>"
            "<label for='e'>Adresse e-mail</label><input id='e' type='email' name='email' required>"
            "<label for='m'>Votre message</label><textarea id='m' name='message' required>"
            "</textarea><button type='submit'>Envoyer</button></form>")
    page = ("<html><body><h1>Nous contacter</h1><div id='app'></div><noscript>Activez "
            f"JavaScript</noscript><img src='http://127.0.0.1:{outside.port}/pixel.png'>"
            f"<script>document.getElementById('app').innerHTML = {json.dumps(form)};</script>"
            "</body></html>")
    site = _Server({"/contact": page})
    try:
        pid = probe_world.probe("webform", f"http://127.0.0.1:{site.port}/contact")
        with probe_world.ws.session() as s:
            probe, brand, persona = probe_world.rows(s, pid)
            result = WebFormChannel(browser=True).send(probe_world.ws, probe, brand, persona)
    finally:
        site.close()
        outside.close()
    assert result.outcome == "failed", result.detail
    assert "refused" in result.detail and f"port {outside.port}" in result.detail
    assert outside.hits == []  # neither the pixel nor the persona's data went there
    assert "GET /contact" in site.hits
