"""Blind views hide the brand in every way a reply names it: name variants (case, accents, NFD,
with or without spaces or hyphens, possessive), its domains and links, e-mail addresses in the
text, the signature and the quoted history, X handles; in the coding panel, the evidence view,
the raw message (which shows no sender when blind) and the blind audit sheet. Served by the real
`qualibench review` over HTTP; the sheet written by the console script."""

from __future__ import annotations

import re

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import select

from qualibench.brandmask import DOMAIN_MASK, EMAIL_MASK, HANDLE_MASK, MASK, fold, mask_brand
from qualibench.models import Brand, Probe
from tests.plugins.review import (
    add_mail_reply,
    assign,
    login_link,
    qb,
    start_review_server,
    stop_review_server,
)

BRAND = "Crédit Agricole"
CONTACTS = {"email": "service-client@credit-agricole.fr", "x": "@CreditAgricole",
            "webform": "https://www.credit-agricole.fr/contact"}
REPLY = ("Bonjour Marie, merci d'avoir écrit à CRÉDIT-AGRICOLE. Chez Credit Agricole's service client "
         "(creditagricole pour les intimes, ou Cre\u0301dit  Agricole) nous avons regardé votre dossier. "
         "Consultez https://www.credit-agricole.fr/aide ou m.credit-agricole.fr, écrivez à "
         "sav@credit-agricole.fr, ou suivez @CreditAgricole et @CreditAgricole_Aide sur X.\n"
         "--\nL'équipe Crédit Agricole\nservice-client@credit-agricole.fr")
QUOTED = "Le 1 déc. 2026, service-client@credit-agricole.fr a écrit : votre demande à Crédit Agricole"


def names_the_brand(text: str) -> list[str]:
    folded = fold(text)
    return [w for w in ("agricole", "creditagricole", "credit-agricole", "credit agricole") if w in folded]


def test_every_way_of_naming_the_brand_is_masked():
    class Row:
        name, contacts = BRAND, CONTACTS

    masked = mask_brand(REPLY, Row())
    assert names_the_brand(masked) == [], masked
    assert masked.count(MASK) == 5 and masked.count(EMAIL_MASK) == 2 and masked.count(HANDLE_MASK) == 2
    assert "https://" + DOMAIN_MASK + "/aide" in masked and DOMAIN_MASK + ", écrivez" in masked
    assert "Bonjour Marie, merci d'avoir écrit à [brand]." in masked  # the rest is untouched
    assert mask_brand("Une carte de crédit agricole ? Non: agricole seul reste.", "Crédit Agricole") \
        == "Une carte de [brand] ? Non: agricole seul reste."  # whole name, not each word
    assert mask_brand("FnacDarty, Fnac Darty, fnac-darty, FNAC.DARTY", "FnacDarty") == ", ".join([MASK] * 4)


@pytest.fixture
def branded(review_world):
    world = review_world
    ws = world.ws
    with ws.session() as s:
        probe = s.exec(select(Probe).order_by(Probe.id)).first()
        brand = s.get(Brand, probe.brand_id)
        old = brand.name
        brand.name, brand.contacts = BRAND, CONTACTS
        s.add(brand)
        probe.subject = f"Question pour {BRAND}"
        s.add(probe)
        html = f"<p>{REPLY.replace(chr(10), '<br>')}</p><blockquote>{QUOTED}</blockquote>"
        reply = add_mail_reply(ws, s, probe, REPLY, 500, html=html,
                               attachments=(("facture-credit-agricole.pdf", b"%PDF-1.4 listed only"),))
        reply.signature = "L'équipe Crédit Agricole"
        s.add(reply)
        rid = reply.id
    world.brands = [BRAND if b == old else b for b in world.brands]
    server = start_review_server(world)
    yield world, server, rid
    stop_review_server(server)


def client(link: str, base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get(link).text).group(1)
    assert c.post(link, data={"csrf": csrf}).status_code == 303
    return c


def test_blind_views_mask_the_brand_everywhere_and_hide_the_sender(branded, tmp_path):
    world, server, rid = branded
    ana = client(login_link(world, "ana", "auditor", server.base), server.base)
    assign(world, "ana", [rid])
    panel = ana.get(f"/code/{rid}").text
    assert "avoir écrit à [brand]" in panel and "Question pour [brand]" in panel
    assert names_the_brand(panel) == [], names_the_brand(panel)
    assert ana.get(f"/reply/{rid}/raw").status_code == 403  # evidence opens after her code
    csrf = re.search(r'name="csrf" value="([^"]+)"', panel).group(1)
    code = {"relevance": "30", "reformulation": "15", "empathy": "10", "personalisation": "5", "politeness": "8"}
    assert ana.post(f"/code/{rid}", data={"csrf": csrf, **code}).status_code == 303
    evidence = ana.get(f"/reply/{rid}").text
    assert "facture-[brand].pdf" in evidence  # attachments are listed, their names masked
    raw = ana.get(f"/reply/{rid}/raw")
    assert raw.status_code == 200 and "[brand e-mail] a écrit" in raw.text and "Blind coding: the sender" in raw.text
    for page in (evidence, raw.text):
        assert names_the_brand(page) == [], names_the_brand(page)
        assert "service-client@" not in page and "sender" not in page.replace("Blind coding: the sender", "")
    # Not blind for an adjudicator: the same views name the brand and the sender (the test can fail).
    judge = client(login_link(world, "jo", "adjudicator", server.base), server.base)
    assert "service-client@credit-agricole.fr" in judge.get(f"/reply/{rid}/raw").text
    assert "sender service-client@credit-agricole.fr" in judge.get(f"/reply/{rid}").text

    qb(world, "audit", "export", "--blind", "--out", str(tmp_path / "blind.xlsx"))
    sheet = load_workbook(tmp_path / "blind.xlsx")["audit"]
    cells = " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value is not None)
    assert names_the_brand(cells) == [] and "[brand handle]" in cells and "[brand e-mail]" in cells
