"""Reading contact pages: find the form, name its fields, spot what blocks a robot, read the outcome.

Pure functions over HTML text (lxml), so every rule can be tested on a fixture page. Field roles
are ours ("email", "message", "topic"...); a brand's `form_mapping` maps a role to its field name
when the guess is wrong.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urljoin

import lxml.etree
import lxml.html

ROLES = (
    "civility", "first_name", "last_name", "full_name", "email", "phone", "topic", "subject",
    "order_number", "customer_number", "message", "consent",
)

# Ordered: the first role whose words appear in a field's description wins, so the more
# specific ones ("prenom" before "nom", "numero de commande" before "numero client") come first.
_ROLE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("email", ("e-mail", "email", "courriel", "mail", "adresse electronique")),
    ("phone", ("telephone", "phone", "mobile", "portable", "tel")),
    ("first_name", ("prenom", "firstname", "first name", "first_name", "given", "fname")),
    ("full_name", ("votre nom", "nom complet", "nom et prenom", "full name", "fullname",
                   "your name")),
    ("last_name", ("lastname", "last name", "last_name", "surname", "family", "lname",
                   "nom de famille", "nom")),
    ("full_name", ("name",)),
    ("civility", ("civilite", "civility", "salutation", "title", "gender", "genre")),
    ("order_number", ("commande", "order", "reference de commande")),
    ("customer_number", ("numero client", "client", "customer", "adherent", "account number",
                         "contrat", "contract")),
    ("topic", ("motif", "topic", "category", "categorie", "reason", "type de demande",
               "sujet", "objet", "subject", "theme")),
    ("subject", ("objet", "sujet", "subject", "titre")),
    ("message", ("message", "commentaire", "comment", "question", "demande", "details",
                 "description", "texte", "body")),
)
_CONSENT_WORDS = ("rgpd", "gdpr", "consent", "accepte", "accept", "agree", "privacy",
                  "confidentialite", "donnees personnelles", "conditions", "cgu", "terms")
_NEWSLETTER_WORDS = ("newsletter", "offre", "offers", "promotion", "marketing", "partenaires")
_HONEYPOT_WORDS = ("leave this empty", "laisser vide", "ne pas remplir", "do not fill", "website",
                   "url", "fax")
_HONEYPOT_MARKS = ("honeypot", "hp_", "_hp", "hpot", "nospam", "bot-field", "botcheck")
_CAPTCHA_MARKERS = ("g-recaptcha", "h-captcha", "cf-turnstile", "frc-captcha", "captcha")


@functools.lru_cache(maxsize=2048)
def fold(text: str) -> str:
    """Return `text` lower-cased, without accents and with single spaces (for word matching)."""
    # Cached: a brand's pages and labels come back for each of its probes, and this walks
    # the text character by character.
    text = text or ""
    # NFKD leaves ASCII as it is, and no ASCII character is combining.
    bare = text if text.isascii() else unicodedata.normalize("NFKD", text).translate(_UNACCENT)
    return re.sub(r"\s+", " ", bare.replace("’", "'")).strip().lower()


class _Unaccent(dict):
    """A `str.translate` table dropping combining characters, filled as characters come
    (a character already seen is looked up in C, not tested again in Python)."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.combining(chr(code)) else code
        self[code] = value
        return value


_UNACCENT = _Unaccent()


@functools.lru_cache(maxsize=512)
def _word_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    # Whole-word match so "nom" does not fire inside "prenom" and "tel" not inside "hotel";
    # one alternation per word list instead of one search per word.
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(re.escape(w) for w in words)
                      + r")(?![a-z0-9])")


def _has_word(haystack: str, word: str) -> bool:
    return _word_pattern((word,)).search(haystack) is not None


def _words_in(haystack: str, words: tuple[str, ...]) -> bool:
    return bool(words) and _word_pattern(tuple(words)).search(haystack) is not None


@dataclass
class FormField:
    """One named control of a form, with what a person would read next to it."""

    name: str
    tag: str  # input, select, textarea
    kind: str  # the input type (text, email, hidden, checkbox...), "select" or "textarea"
    label: str = ""
    placeholder: str = ""
    value: str = ""
    required: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, text)
    honeypot: bool = False
    role: str | None = None

    def describe(self) -> str:
        """Return the folded words a field is recognised by (name, id, label, placeholder)."""
        name_words = re.sub(r"[_\-\[\].]+", " ", re.sub(r"([a-z])([A-Z])", r"\1 \2", self.name))
        return fold(f"{name_words} {self.name} | {self.label} | {self.placeholder}")


@dataclass
class ParsedForm:
    """A form as found on a page: where it posts, its fields, and what may block a robot."""

    action: str
    method: str
    enctype: str
    fields: list[FormField]
    submit: tuple[str, str] | None = None  # name, value of the submit button if it has a name
    submit_text: str = ""
    captcha: bool = False

    def by_role(self) -> dict[str, FormField]:
        """Return the mapped fields by role (first field of each role)."""
        out: dict[str, FormField] = {}
        for f in self.fields:
            if f.role and f.role not in out:
                out[f.role] = f
        return out

    def is_contact_form(self) -> bool:
        """Return True when the form looks like a message form (not a search or login box)."""
        kinds = {f.kind for f in self.fields}
        if "password" in kinds:
            return False
        visible = [f for f in self.fields if f.kind not in ("hidden", "submit") and not f.honeypot]
        return "textarea" in kinds or len(visible) >= 3


def _style_hidden(el) -> bool:  # type: ignore[no-untyped-def]
    for node in [el, *el.iterancestors()]:
        style = fold(node.get("style", "")).replace(" ", "")
        if "display:none" in style or "visibility:hidden" in style:
            return True
        if node.get("hidden") is not None or node.get("aria-hidden") == "true":
            return True
        if node.tag == "form":
            break
    return False


def _label_for(doc, el) -> str:  # type: ignore[no-untyped-def]
    ident = el.get("id")
    if ident:
        labels = doc.xpath("//label[@for=$i]", i=ident)
        if labels:
            return labels[0].text_content().strip()
    for anc in el.iterancestors():
        if anc.tag == "label":
            return anc.text_content().strip()
        if anc.tag == "form":
            break
    return el.get("aria-label", "") or el.get("title", "")


def html_document(html: str):  # type: ignore[no-untyped-def]
    """Return the parsed page, or None for a page with no document (empty, only a comment)."""
    if not html.strip():
        return None
    try:
        return lxml.html.fromstring(html)
    except lxml.etree.ParserError:
        return None


def parse_forms(html: str, base_url: str) -> list[ParsedForm]:
    """Return every form of the page with its fields described (roles not assigned yet)."""
    doc = html_document(html)
    if doc is None:
        return []
    forms: list[ParsedForm] = []
    for form in doc.xpath("//form"):
        fields: list[FormField] = []
        seen_radio: set[str] = set()
        for el in form.xpath(".//input|.//select|.//textarea"):
            name = el.get("name")
            if not name:
                continue
            tag = el.tag
            kind = tag if tag != "input" else (el.get("type") or "text").lower()
            if kind in ("submit", "button", "image", "reset"):
                continue
            if kind == "radio":
                if name in seen_radio:
                    fields[[f.name for f in fields].index(name)].options.append(
                        (el.get("value", ""), _label_for(doc, el)))
                    continue
                seen_radio.add(name)
            f = FormField(
                name=name, tag=tag, kind=kind, label=_label_for(doc, el),
                placeholder=el.get("placeholder", ""),
                value=(el.text or "") if tag == "textarea" else el.get("value", ""),
                required=el.get("required") is not None or el.get("aria-required") == "true",
            )
            if tag == "select":
                f.options = [(o.get("value", o.text_content().strip()), o.text_content().strip())
                             for o in el.xpath(".//option")]
                selected = el.xpath(".//option[@selected]")
                f.value = selected[0].get("value", "") if selected else ""
            elif kind == "radio":
                f.options = [(el.get("value", ""), _label_for(doc, el))]
                # a radio group's label is usually its fieldset legend
                legend = el.xpath("ancestor::fieldset[1]/legend")
                f.label = legend[0].text_content().strip() if legend else f.label
            marks = fold(f"{name} {el.get('class', '')} {el.get('id', '')} {f.label}")
            if kind != "hidden" and (_style_hidden(el) or _words_in(marks, _HONEYPOT_WORDS)
                                     or any(m in marks for m in _HONEYPOT_MARKS)):
                # a visible e-mail field named like a trap is still the customer's e-mail
                f.honeypot = kind != "email" or _style_hidden(el)
            if kind != "hidden" and el.get("tabindex") == "-1" and el.get("autocomplete") == "off":
                f.honeypot = True
            fields.append(f)
        submit_el = form.xpath(".//button[not(@type) or @type='submit']|.//input[@type='submit']")
        submit = None
        submit_text = ""
        if submit_el:
            b = submit_el[0]
            submit_text = (b.text_content() or b.get("value", "")).strip()
            if b.get("name"):
                submit = (b.get("name"), b.get("value", ""))
        # The markers are plain ASCII: lower case is enough (folding the whole form's markup,
        # its session token included, cost more than the rest of the parse).
        blob = lxml.html.tostring(form, encoding="unicode").lower()
        captcha = any(m in blob for m in _CAPTCHA_MARKERS)
        forms.append(ParsedForm(
            action=urljoin(base_url, form.get("action") or base_url),
            method=(form.get("method") or "get").upper(),
            enctype=(form.get("enctype") or "application/x-www-form-urlencoded").lower(),
            fields=fields, submit=submit, submit_text=submit_text, captcha=captcha,
        ))
    return forms


def assign_roles(form: ParsedForm, override: dict[str, str] | None = None) -> ParsedForm:
    """Set each field's role from the brand's override first, then from its words; return form."""
    override = override or {}
    by_name = {v: k for k, v in override.items()}
    taken: set[str] = set()
    for f in form.fields:
        f.role = None
        if f.name in by_name:
            f.role = by_name[f.name]
            taken.add(f.role)
    for f in form.fields:
        if f.role or f.kind == "hidden" or f.honeypot:
            continue
        words = f.describe()
        if f.kind == "checkbox":
            if _words_in(words, _CONSENT_WORDS) and not _words_in(words, _NEWSLETTER_WORDS):
                f.role = "consent"
            continue
        if f.kind == "textarea":
            f.role = "message" if "message" not in taken else None
        elif f.kind == "email":
            f.role = "email"
        elif f.kind == "tel":
            f.role = "phone"
        else:
            for role, role_words in _ROLE_WORDS:
                if role in override or role in taken:
                    continue
                if role == "topic" and f.kind not in ("select", "radio"):
                    continue
                if role == "civility" and f.kind in ("select", "radio") and _civility_options(f):
                    f.role = role
                    break
                if _words_in(words, role_words):
                    f.role = role
                    break
            if f.role is None and f.kind in ("select", "radio") and _civility_options(f):
                f.role = "civility"
        if f.role:
            taken.add(f.role)
    # "Votre nom" beside "Votre prénom" is the family name, not the full name.
    if "first_name" in taken and "last_name" not in taken and "last_name" not in override:
        for f in form.fields:
            if f.role == "full_name" and "full_name" not in override:
                f.role = "last_name"
    return form


def _civility_options(f: FormField) -> bool:
    texts = " ".join(fold(t) + " " + fold(v) for v, t in f.options)
    return _words_in(texts, ("madame", "monsieur", "mme", "m.", "mr", "mrs", "ms"))


def pick_option(f: FormField, wish: str) -> str:
    """Return the option value closest to `wish` (shared words), else the first real option."""
    real = [(v, t) for v, t in f.options if v.strip() and not fold(t).startswith(("--", "choisi", "select", "choose", "veuillez"))]
    if not real:
        return f.value
    # Words said first weigh more: "livraison de ma commande" is about the delivery.
    weight: dict[str, float] = {}
    for i, w in enumerate(re.findall(r"[a-z]{3,}", fold(wish))):
        weight.setdefault(w[:6], 1.0 / (1 + i))

    def score(option: tuple[str, str]) -> float:
        stems = {w[:6] for w in re.findall(r"[a-z]{3,}", fold(option[1] + " " + option[0]))}
        return sum(weight.get(s, 0.0) for s in stems)

    return max(real, key=score)[0]


# The words of each scenario kind that a topic list is likely to use (FR and EN).
KIND_TOPIC_WORDS = {
    "delivery": "livraison delivery colis",
    "complaint": "reclamation complaint litige",
    "commercial_question": "produit product information question commerciale",
    "technical_problem": "technique technical probleme panne",
    "refund": "remboursement refund retour",
    "sympathy": "autre other remerciement",
}


def fill_values(form: ParsedForm, values: dict[str, str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Return the (name, value) pairs to submit and the required fields we could not fill.

    Hidden fields (CSRF tokens) keep their value, honeypots stay empty, an unmapped optional
    field keeps its default, a non-consent checkbox stays unticked.
    """
    pairs: list[tuple[str, str]] = []
    missing: list[str] = []
    for f in form.fields:
        if f.honeypot:
            pairs.append((f.name, ""))
            continue
        if f.kind == "hidden":
            pairs.append((f.name, f.value))
            continue
        if f.kind == "checkbox":
            if f.role == "consent" or (f.required and not _words_in(f.describe(), _NEWSLETTER_WORDS)):
                pairs.append((f.name, f.value or "on"))
            continue
        wish = values.get(f.role or "", "")
        if f.kind in ("select", "radio"):
            if f.role == "civility":
                chosen = pick_option(f, wish or "madame")
            elif f.role == "topic" or f.required:
                chosen = pick_option(f, wish)
            else:
                chosen = f.value
            if f.kind == "radio" and not chosen and not f.required:
                continue
            pairs.append((f.name, chosen))
            continue
        if not wish and f.required and not f.value:
            missing.append(f.label or f.name)
        pairs.append((f.name, wish or f.value))
    if form.submit:
        pairs.append(form.submit)
    return pairs, missing
