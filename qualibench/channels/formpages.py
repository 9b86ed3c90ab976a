"""Reading the pages around a form: the way to the contact page, what blocks a robot, the outcome.

Pure functions over HTML text; the brand's own words (a confirmation, an error message) are
given back as they appear, so a failed probe records why in the brand's terms.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from .formparse import ParsedForm, _has_word, _words_in, fold, html_document

_CONTACT_LINK_WORDS = ("nous contacter", "contactez", "contact", "service client",
                       "customer service", "aide", "help", "support", "ecrire", "write to us")
_CONFIRM_WORDS = ("bien ete envoye", "bien ete transmis", "bien ete recu", "bien recu", "merci",
                  "thank you", "thanks", "has been sent", "was sent", "we have received",
                  "we received", "nous reviendrons", "get back to you", "confirmation")
_ERROR_WORDS = ("erreur", "error", "invalide", "invalid", "obligatoire", "required",
                "veuillez", "please correct", "please fill", "echec", "failed", "impossible")
_LOGIN_WORDS = ("connectez-vous", "connexion", "se connecter", "identifiez-vous", "log in",
                "login", "sign in", "espace client")


def page_text(html: str) -> str:
    """Return the visible text of a page (scripts and styles removed), single-spaced."""
    doc = html_document(html)
    if doc is None:
        return ""
    for bad in doc.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    return re.sub(r"\s+", " ", doc.text_content()).strip()


def contact_links(html: str, base_url: str) -> list[str]:
    """Return links that look like they lead to a contact page, best first."""
    doc = html_document(html)
    if doc is None:
        return []
    scored: list[tuple[int, str]] = []
    for a in doc.xpath("//a[@href]"):
        words = fold(a.text_content() + " " + a.get("href", "") + " " + a.get("title", ""))
        for rank, w in enumerate(_CONTACT_LINK_WORDS):
            if _has_word(words, w):
                scored.append((rank, urljoin(base_url, a.get("href"))))
                break
    seen: list[str] = []
    for _, url in sorted(scored, key=lambda s: s[0]):
        if url not in seen:
            seen.append(url)
    return seen


def page_blocker(html: str, forms: list[ParsedForm]) -> str | None:
    """Return why a robot cannot use this page (captcha, login wall, JavaScript-only), or None."""
    contact = [f for f in forms if f.is_contact_form()]
    if any(f.captcha for f in contact):
        return "captcha on the contact form"
    text = fold(page_text(html))
    has_password = any(fl.kind == "password" for f in forms for fl in f.fields)
    if not contact and has_password:
        return "login wall: the contact form needs a customer account"
    if not contact and _words_in(text, _LOGIN_WORDS) and "contact" in text:
        return "login wall: the contact form needs a customer account"
    if not contact:
        raw = fold(html)
        if "<script" in raw and ("<noscript" in raw or 'id="app"' in raw or "data-form" in raw
                                 or "javascript" in raw):
            return "the form is built by JavaScript only"
    return None


def read_outcome(html: str) -> tuple[str, str]:
    """Return ("confirmed" | "error" | "unknown", the brand's own words) for a response page."""
    doc = html_document(html)
    if doc is None:
        return "unknown", ""
    for bad in doc.xpath("//script|//style"):
        bad.drop_tree()
    error_nodes = doc.xpath(
        "//*[@role='alert' or contains(@class,'error') or contains(@class,'alert-danger')"
        " or contains(@class,'invalid-feedback') or contains(@class,'erreur')]")
    for node in error_nodes:
        words = re.sub(r"\s+", " ", node.text_content()).strip()
        if words and _words_in(fold(words), _ERROR_WORDS):
            return "error", words[:500]
    confirm_nodes = doc.xpath(
        "//*[contains(@class,'success') or contains(@class,'confirm') or contains(@class,'alert-info')"
        " or contains(@class,'thanks') or @role='status']")
    for node in confirm_nodes:
        words = re.sub(r"\s+", " ", node.text_content()).strip()
        if words and _words_in(fold(words), _CONFIRM_WORDS):
            return "confirmed", words[:500]
    for node in doc.xpath("//h1|//h2|//p|//div[not(*)]"):
        words = re.sub(r"\s+", " ", node.text_content()).strip()
        folded = fold(words)
        if words and _words_in(folded, _CONFIRM_WORDS) and len(words) < 400:
            return "confirmed", words[:500]
    for node in doc.xpath("//h1|//h2|//p"):
        words = re.sub(r"\s+", " ", node.text_content()).strip()
        if words and _words_in(fold(words), _ERROR_WORDS):
            return "error", words[:500]
    return "unknown", ""
