"""Where a brand's web-form walk may go and what it reads (the hostile cases run end to end in
tests/hostile/test_webform_hostile.py)."""

from __future__ import annotations

import gzip

import httpx
import pytest

from qualibench.channels.sitelimits import (
    HostPolicy,
    SiteClient,
    SiteLimits,
    SiteRefused,
    registrable_domain,
)
from qualibench.errors import QualibenchError


def test_registrable_domains_follow_the_public_suffix_list():
    assert registrable_domain("www.fnac.com") == "fnac.com"
    assert registrable_domain("aide.boutique.co.uk") == "boutique.co.uk"
    assert registrable_domain("127.0.0.1") == "127.0.0.1"
    assert registrable_domain("localhost") == "localhost"


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://www.fnac.com/contact", True),
    ("https://secure.fnac.com/form", True),  # another host of the brand's own domain
    ("https://fnac.zendesk.com/hc/requests/new", True),  # listed for the brand
    ("https://other.zendesk.com/hc/requests/new", False),  # listed is one host, not zendesk.com
    ("https://fnac.com.evil.example/steal", False),
    ("ftp://www.fnac.com/x", False),
    ("https://www.fnac.com:993/", False),  # its own domain, but a port no URL names
    ("http://127.0.0.1:8080/contact", True),  # the listed URL's own host and port
    ("http://127.0.0.1:143/", False),
    ("http://localhost:8080/contact", False),
])
def test_host_policy(url, allowed):
    policy = HostPolicy(["https://www.fnac.com/contact", "http://127.0.0.1:8080/contact"],
                        domains=["fnac.fr"], hosts=["fnac.zendesk.com"])
    assert (policy.refusal(httpx.URL(url)) is None) is allowed


def test_the_brand_e_mail_domain_counts_as_its_own():
    policy = HostPolicy(["https://www.fnac.com/contact"], domains=["service.fnac.fr"])
    assert policy.refusal(httpx.URL("https://aide.fnac.fr/formulaire")) is None


def test_bad_limits_in_campaign_toml_are_one_line_with_the_fix():
    assert SiteLimits.from_config({"request_seconds": 5}).request_seconds == 5.0
    with pytest.raises(QualibenchError, match=r"max_redirects = 2.5 is not a positive whole"):
        SiteLimits.from_config({"max_redirects": 2.5})
    with pytest.raises(QualibenchError, match="request_seconds"):
        SiteLimits.from_config({"request_seconds": "fast"})


def _client(handler, **limits) -> SiteClient:
    client = SiteClient(SiteLimits(**limits), transport=httpx.MockTransport(handler))
    client.start_visit(HostPolicy(["http://shop.test/"]))
    return client


def test_gzip_members_are_all_read_and_the_cap_counts_decompressed_bytes():
    body = gzip.compress(b"<p>un</p>") + gzip.compress(b"<p>deux</p>")
    page = _client(lambda r: httpx.Response(200, content=iter([body]),
                                            headers={"Content-Encoding": "gzip"})).get(
        "http://shop.test/")
    assert page.text == "<p>un</p><p>deux</p>"
    bomb = gzip.compress(b"\0" * 5_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(SiteRefused, match="once decompressed"):
        _client(lambda r: httpx.Response(200, content=iter([bomb]), headers={
            "Content-Encoding": "gzip"}), max_page_bytes=1_000_000).get("http://shop.test/")


def test_a_post_redirected_with_303_becomes_a_get_and_cookies_do_not_outlive_a_visit():
    seen: list[tuple[str, str, str]] = []

    def site(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get("cookie", "")))
        if request.url.path == "/send":
            return httpx.Response(303, headers={"Location": "/merci",
                                                "Set-Cookie": "sid=abc; Path=/"})
        return httpx.Response(200, html="<p>Merci</p>")

    client = _client(site)
    page = client.post("http://shop.test/send", data={"message": "Bonjour"})
    assert page.url.path == "/merci" and page.redirects == 1
    assert seen == [("POST", "/send", ""), ("GET", "/merci", "sid=abc")]
    client.start_visit(HostPolicy(["http://shop.test/"]))  # the next persona's visit
    client.get("http://shop.test/")
    assert seen[-1] == ("GET", "/", "")


def test_the_campaign_lists_extra_hosts_per_brand():
    from types import SimpleNamespace

    from qualibench.channels.webform import WebFormChannel
    from qualibench.models import Brand

    raw = {"webform": {"hosts": {"acme": ["acme.zendesk.com"]}}}
    ws = SimpleNamespace(spec=lambda: SimpleNamespace(config=SimpleNamespace(raw=raw)))
    brand = Brand(campaign_id=1, key="acme", name="Acme", contacts={
        "email": "service@acme.fr", "webform": "https://www.acme.com/contact"})
    policy = WebFormChannel().policy(ws, brand, brand.contacts["webform"])
    assert policy.refusal(httpx.URL("https://acme.zendesk.com/hc/requests/new")) is None
    assert policy.refusal(httpx.URL("https://aide.acme.fr/formulaire")) is None  # its e-mail's
    assert policy.refusal(httpx.URL("https://other.zendesk.com/hc")) is not None
