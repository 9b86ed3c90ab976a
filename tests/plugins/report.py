"""Fixtures of the analytics/report area: a synthetic finished campaign in the test database."""

from __future__ import annotations

import pytest
from sqlmodel import select

from qualibench.models import Brand, Probe, Reply
from qualibench.synthetic import build_finished_campaign
from qualibench.workspace import Workspace

HOSTILE = ("<script>document.title='PWNED';document.body.innerHTML='PWNED'</script>"
           "<img src=x onerror=\"document.title='PWNED'\"><b>bold?</b> Bonjour")


@pytest.fixture
def finished(tmp_path, db_url):
    """Return (workspace, campaign_id) of a 12-brand finished synthetic campaign."""
    ws = Workspace.open(tmp_path / "camp", db_url)
    cid = build_finished_campaign(ws, brands=12, channels=("email", "webform", "x"), scenarios=2, seed=7)
    return ws, cid


@pytest.fixture
def hostile(finished):
    """The finished campaign where every reply of the first brand carries HTML and a script."""
    ws, cid = finished
    with ws.session() as s:
        brand = s.exec(select(Brand).where(Brand.campaign_id == cid).order_by(Brand.id)).first()
        ids = [p.id for p in s.exec(select(Probe).where(Probe.brand_id == brand.id))]
        for r in s.exec(select(Reply).where(Reply.probe_id.in_(ids))):
            r.text = HOSTILE + "\n" + r.text
            s.add(r)
    return ws, cid
