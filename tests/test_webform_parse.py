"""Form discovery and field mapping on realistic pages (pure functions, no network)."""

from __future__ import annotations

from qualibench.channels.formpages import contact_links, page_blocker, read_outcome
from qualibench.channels.formparse import assign_roles, fill_values, parse_forms
from qualibench.world.site import BrandSite

VALUES = {"first_name": "Claire", "last_name": "Martin", "full_name": "Claire Martin",
          "email": "claire.1@replies.test", "phone": "0612345678", "subject": "Colis non reçu",
          "topic": "livraison de ma commande", "order_number": "CMD-482913", "message": "Bonjour...",
          "civility": "", "customer_number": ""}


def _form_html(kind: str, action: str = "contact") -> str:
    site = BrandSite()
    try:
        site.add_brand("b", kind)
        return site.contact_form("b", "TOKEN123", action)
    finally:
        site._server.server_close()


def test_french_form_fields_are_mapped_by_label_name_and_type():
    form = parse_forms(_form_html("standard"), "http://site.test/b/contact")[0]
    roles = {f.role: f.name for f in assign_roles(form).fields if f.role}
    assert roles == {"civility": "civilite", "first_name": "prenom", "last_name": "nom",
                     "email": "email", "phone": "telephone", "topic": "objet",
                     "order_number": "num_commande", "message": "message", "consent": "consentement"}
    assert form.action == "http://site.test/b/contact"
    assert form.method == "POST"


def test_filling_keeps_csrf_leaves_honeypot_empty_and_ticks_only_consent():
    form = assign_roles(parse_forms(_form_html("standard"), "http://site.test/b/contact")[0])
    pairs, missing = fill_values(form, VALUES)
    sent = dict(pairs)
    assert missing == []
    assert sent["csrf_token"] == "TOKEN123"
    assert sent["website"] == ""
    assert sent["consentement"] == "1"
    assert "newsletter" not in sent
    assert sent["objet"] == "livraison"
    assert sent["civilite"] == "mme"
    assert sent["email"] == "claire.1@replies.test"
    assert sent["num_commande"] == "CMD-482913"


def test_english_form_is_mapped_too():
    form = assign_roles(parse_forms(_form_html("english"), "http://site.test/b/contact")[0])
    roles = {f.role: f.name for f in form.fields if f.role}
    assert roles["first_name"] == "first_name"
    assert roles["last_name"] == "last_name"
    assert roles["order_number"] == "order_ref"
    assert roles["consent"] == "privacy"
    assert roles["topic"] == "topic"
    sent = dict(fill_values(form, {**VALUES, "topic": "where is my delivery"})[0])
    assert sent["topic"] == "delivery"
    assert "newsletter" not in sent


def test_brand_override_mapping_wins_over_the_guess():
    page = ("<form method=post><input name='f1' placeholder='Votre nom'><input name='f2'>"
            "<input name='f3'><textarea name='f4'></textarea></form>")
    form = assign_roles(parse_forms(page, "http://x.test/")[0], {"email": "f2", "phone": "f3"})
    roles = {f.name: f.role for f in form.fields}
    assert roles == {"f1": "full_name", "f2": "email", "f3": "phone", "f4": "message"}


def test_blockers_are_named():
    captcha = parse_forms(_form_html("captcha"), "http://x.test/")
    assert page_blocker(_form_html("captcha"), captcha) == "captcha on the contact form"
    js = ("<html><body><div id='app' data-form='contact'></div><noscript>Activez JavaScript"
          "</noscript><script>render()</script></body></html>")
    assert page_blocker(js, parse_forms(js, "http://x.test/")) == "the form is built by JavaScript only"
    login = ("<html><body><p>Connectez-vous pour contacter le service client</p><form method=post>"
             "<input name=login><input type=password name=pw></form></body></html>")
    assert page_blocker(login, parse_forms(login, "http://x.test/")).startswith("login wall")
    plain = _form_html("standard")
    assert page_blocker(plain, parse_forms(plain, "http://x.test/")) is None


def test_contact_links_are_found_and_ranked():
    page = ("<a href='/produits'>Produits</a><a href='/aide'>Aide</a>"
            "<a href='/nous-contacter'>Nous contacter</a>")
    assert contact_links(page, "http://x.test/home") == ["http://x.test/nous-contacter", "http://x.test/aide"]


def test_outcome_reads_the_brands_words():
    ok = "<div class='alert alert-success'>Merci, votre message a bien été envoyé.</div>"
    assert read_outcome(ok) == ("confirmed", "Merci, votre message a bien été envoyé.")
    bad = "<div role='alert'>Le champ e-mail est obligatoire.</div><form></form>"
    assert read_outcome(bad) == ("error", "Le champ e-mail est obligatoire.")
    assert read_outcome("<h1>Bienvenue</h1><p>Nos produits</p>") == ("unknown", "")
    en = "<h1>Thank you!</h1><p>Your message has been sent.</p>"
    assert read_outcome(en)[0] == "confirmed"


def test_honeypots_are_recognised_by_style_name_and_class():
    page = ("<form method=post><input name='email' type='email'><textarea name='msg'></textarea>"
            "<input name='hp_check'><input name='nickname' class='form-honeypot'>"
            "<div style='display: none'><input name='company'></div>"
            "<input name='url' tabindex='-1' autocomplete='off'><input name='city'></form>")
    form = assign_roles(parse_forms(page, "http://x.test/")[0])
    traps = {f.name for f in form.fields if f.honeypot}
    assert traps == {"hp_check", "nickname", "company", "url"}
    sent = dict(fill_values(form, VALUES)[0])
    assert all(sent[name] == "" for name in traps)
    assert sent["email"] == "claire.1@replies.test"
