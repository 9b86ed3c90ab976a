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
