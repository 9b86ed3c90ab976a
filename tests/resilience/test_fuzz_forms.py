"""Hostile pages for the web form parser: any HTML gives forms or none, never a crash.

(The MIME parser and the campaign loader are fuzzed by their own suites: tests/test_mail_parse.py
and tests/test_campaign_fuzz.py.)
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml.etree import ParserError

from qualibench.channels.formparse import assign_roles, fill_values, parse_forms

TAGS = ["form", "input", "select", "option", "textarea", "label", "button", "div", "p", "script",
        "fieldset", "iframe", "table", "td", "!--", "![CDATA["]
ATTRS = ["name", "id", "type", "value", "for", "action", "method", "enctype", "required", "style",
         "placeholder", "class", "data-sitekey", "hidden", "tabindex", "autocomplete", "selected"]
VALUES = st.one_of(st.text(max_size=20), st.sampled_from(
    ["email", "hidden", "checkbox", "radio", "submit", "display:none", "post", "GET",
     "multipart/form-data", "g-recaptcha", "javascript:alert(1)", "//evil.example/x", "\x00",
     "../../etc/passwd", "💥", "é" * 3, "<", "\"'", "civilite", "message", "prenom"]))


@st.composite
def element(draw, depth: int = 0):  # type: ignore[no-untyped-def]
    tag = draw(st.sampled_from(TAGS))
    attrs = draw(st.lists(st.tuples(st.sampled_from(ATTRS), VALUES), max_size=5))
    attr_text = "".join(f' {k}="{v}"' if draw(st.booleans()) else f" {k}={v}" for k, v in attrs)
    inner = ""
    if depth < 3:
        children = draw(st.lists(element(depth + 1), max_size=4))
        inner = draw(st.text(max_size=15)) + "".join(children)
    closing = draw(st.sampled_from([f"</{tag}>", "", f"</{tag}", "</form>"]))
    return f"<{tag}{attr_text}>{inner}{closing}"


PAGES = st.one_of(
    st.lists(element(), max_size=6).map("".join),
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=PAGES, base=st.sampled_from(["http://127.0.0.1:8000/brand/contact", "https://x.example/"]))
def test_any_page_parses_to_forms_or_none(page, base):
    try:
        forms = parse_forms(page, base)
    except ValueError as exc:
        # lxml refuses some inputs outright (NUL bytes, encoding declarations): a clear error.
        assert str(exc)
        return
    except ParserError as exc:
        # Known crash pinned below (a page of only comments or whitespace-like markup).
        assert "Document is empty" in str(exc)
        return
    for form in forms:
        assign_roles(form)
        pairs, missing = fill_values(form, {"first_name": "Marie", "last_name": "Durand",
                                            "email": "m.d@alias.shopper.example", "message": "Bonjour",
                                            "subject": "Commande", "phone": "0612345678"})
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
        assert all(isinstance(m, str) for m in missing)
        # A honeypot is never filled: a robot filling it would be silently dropped by the site.
        honeypots = {f.name for f in form.fields if f.honeypot}
        assert not any(k in honeypots and v for k, v in pairs)


def test_a_page_of_only_a_comment_has_no_form():
    assert parse_forms("<!--></!-->", "http://127.0.0.1:8000/brand/contact") == []
