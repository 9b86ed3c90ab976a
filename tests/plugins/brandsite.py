"""Fixtures for the web form, X and assisted channels: the brand site, the fake X API, probes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from qualibench.clock import VirtualClock
from qualibench.models import Brand, Campaign, Persona, Probe, Scenario, Wave
from qualibench.workspace import Workspace
from qualibench.world.site import BrandSite
from qualibench.world.xapi import FakeXApi

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def brand_site():
    """A started fake brand web site on 127.0.0.1; stopped after the test."""
    with BrandSite() as site:
        yield site


@pytest.fixture
def x_api():
    """A started fake X API on 127.0.0.1 whose brand account is @brandco (id 2001)."""
    with FakeXApi() as api:
        api.add_user("2001", "brandco")
        api.add_user("1001", "shopper_claire")
        api.me = "1001"
        yield api


class ProbeWorld:
    """A workspace with one campaign, persona and scenario; `probe()` adds a brand and a probe."""

    def __init__(self, root: Path, db_url: str) -> None:
        self.clock = VirtualClock(START)
        self.ws = Workspace.open(root, db_url, self.clock)
        with self.ws.session() as s:
            camp = Campaign(slug="test", name="Test", created_at=START, config={})
            s.add(camp)
            s.flush()
            wave = Wave(campaign_id=camp.id, number=1, starts_on=date(2026, 3, 2))
            persona = Persona(campaign_id=camp.id, key="claire", first_name="Claire",
                              last_name="Martin", email="claire@shop.test",
                              alias_domain="replies.test", phone="0612345678")
            scen = Scenario(campaign_id=camp.id, key="livraison", content_hash="h1",
                            title="Colis en retard", kind="delivery", language="fr", spec={})
            s.add_all([wave, persona, scen])
            s.flush()
            self.campaign_id, self.wave_id = camp.id, wave.id
            self.persona_id, self.scenario_id = persona.id, scen.id
        self.n = 0

    def probe(self, channel: str, contact: str, *, form_mapping: dict | None = None,
              fills: dict | None = None, brand_key: str | None = None,
              body: str | None = None) -> int:
        """Add a brand reachable at `contact` on `channel` and one planned probe; return its id."""
        self.n += 1
        with self.ws.session() as s:
            brand = Brand(campaign_id=self.campaign_id, key=brand_key or f"brand{self.n}",
                          name=f"Brand {self.n}", contacts={channel: contact},
                          form_mapping=form_mapping or {})
            s.add(brand)
            s.flush()
            probe = Probe(
                campaign_id=self.campaign_id, key=f"w1:{brand.key}:{channel}:livraison",
                wave_id=self.wave_id, brand_id=brand.id, scenario_id=self.scenario_id,
                persona_id=self.persona_id, channel=channel, planned_at=START,
                window_ends_at=START + timedelta(days=14),
                reply_address=f"claire.{self.n}x7@replies.test",
                message_id=f"<p{self.n}@replies.test>",
                subject="Colis non reçu", fills=fills or {"order_number": "CMD-482913"},
                body=body or ("Bonjour, j'ai passé la commande CMD-482913 il y a dix jours et je "
                              "n'ai toujours pas reçu ma livraison. Pouvez-vous me dire où en est "
                              "mon colis ? Merci d'avance, Claire Martin"),
                short_text="@brandco Ma commande CMD-482913 n'est toujours pas livrée après 10 "
                           "jours, pouvez-vous m'aider ?",
            )
            s.add(probe)
            s.flush()
            return probe.id  # type: ignore[return-value]

    def rows(self, session, probe_id: int):  # type: ignore[no-untyped-def]
        probe = session.get(Probe, probe_id)
        return probe, session.get(Brand, probe.brand_id), session.get(Persona, probe.persona_id)


@pytest.fixture
def probe_world(tmp_path: Path, db_url: str) -> ProbeWorld:
    return ProbeWorld(tmp_path / "campaign", db_url)
