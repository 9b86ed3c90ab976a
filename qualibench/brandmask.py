"""Masking a brand in the texts a blind coder reads: the auditors' blind sheet and the review
app's blind views use this one rule.

A reply gives its brand away in more ways than its exact name: "CRÉDIT-AGRICOLE", "Credit
Agricole's", "creditagricole", the brand's domains (www.fnac.com, a link to its help pages),
e-mail addresses in a signature or quoted history (service@fnac.com, sav@fnac-darty.fr), its X
handles (@Fnac, @Fnac_SAV). Each is replaced by a neutral mark. Names are matched on a folded copy
of the text (case and accents removed, one character per character, so offsets carry back), as
whole words, with or without spaces, hyphens, dots or apostrophes between their parts, and with
a possessive ending. The brand's domains and handles come from its contact points.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from .domains import registrable_domain

MASK = "[brand]"
DOMAIN_MASK = "[brand domain]"
EMAIL_MASK = "[brand e-mail]"
HANDLE_MASK = "[brand handle]"

_MARKS = "[\u0300-\u036f]*"  # combining accents left in text written decomposed (NFD)
_SEPARATORS = r"[\s\-_.'’&+]{0,3}"
_POSSESSIVE = r"(?:['’]s|s['’]|['’])?"
_EMAIL = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[\w-]{2,})", re.UNICODE)
_HANDLE = re.compile(r"(?<![\w@])@(\w+)")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+$")


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch.lower()
    if ch in "’‘":
        return "'"
    base = unicodedata.normalize("NFKD", ch)[0]
    low = base.lower()
    return low if len(low) == 1 else ch


def fold(text: str) -> str:
    """Return `text` without case and accents, one character for each character of `text`."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(ch) for ch in text)


def _name_parts(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)  # "FnacDarty" is written "Fnac Darty" too
    return re.findall(r"[a-z0-9]+", fold(spaced))


class BrandMask:
    """The compiled masking of one brand (build it with `brand_mask`)."""

    def __init__(self, name: str, contacts: tuple[str, ...]) -> None:
        parts = _name_parts(name)
        self.compact = "".join(parts)
        self.name: re.Pattern[str] | None = None
        if len(self.compact) >= 2:
            body = _SEPARATORS.join("".join(re.escape(c) + _MARKS for c in part) for part in parts)
            self.name = re.compile(rf"(?<![a-z0-9]){body}{_POSSESSIVE}(?![a-z0-9])")
        domains, handles = set(), set()
        for value in contacts:
            value = value.strip()
            if not value:
                continue
            if value.startswith("@") and re.fullmatch(r"@\w{1,15}", value):
                handles.add(value[1:].lower())
                continue
            host = value.rsplit("@", 1)[1] if "@" in value and "/" not in value else (
                urlsplit(value if "//" in value else "//" + value).hostname or "")
            host = host.lower().rstrip(".")
            if _HOST.match(host):
                domains.add(registrable_domain(host))
        self.domains = frozenset(d for d in domains if "." in d)
        self.handles = frozenset(handles)
        self.domain: re.Pattern[str] | None = None
        if self.domains:
            alternatives = "|".join(re.escape(d) for d in sorted(self.domains, key=len, reverse=True))
            self.domain = re.compile(rf"(?<![\w.-])(?:[a-z0-9-]+\.)*(?:{alternatives})(?![\w-])", re.IGNORECASE)

    def _names_in(self, text: str) -> bool:
        return self.name is not None and self.name.search(fold(text)) is not None

    def _brand_email(self, match: re.Match[str]) -> str:
        domain = match.group(1).lower()
        ours = registrable_domain(domain) in self.domains or self._names_in(domain.replace(".", " "))
        return EMAIL_MASK if ours else match.group(0)

    def _brand_handle(self, match: re.Match[str]) -> str:
        handle = fold(match.group(1))
        ours = handle in self.handles or (len(self.compact) >= 3 and self.compact in handle.replace("_", ""))
        return HANDLE_MASK if ours else match.group(0)

    def apply(self, text: str) -> str:
        """Return `text` with every way of naming the brand replaced by a mark."""
        if not text:
            return text
        text = _EMAIL.sub(self._brand_email, text)
        text = _HANDLE.sub(self._brand_handle, text)
        if self.domain is not None:
            text = self.domain.sub(DOMAIN_MASK, text)
        if self.name is not None:
            out, pos = [], 0
            for m in self.name.finditer(fold(text)):  # folded offsets are the text's offsets
                out += [text[pos:m.start()], MASK]
                pos = m.end()
            text = "".join(out) + text[pos:]
        return text


@functools.lru_cache(maxsize=512)
def _compiled(name: str, contacts: tuple[str, ...]) -> BrandMask:
    return BrandMask(name, contacts)


def brand_mask(brand: Any) -> BrandMask:
    """Return the mask of `brand`: a Brand row (name and contact points) or just a name."""
    if isinstance(brand, str) or brand is None:
        return _compiled((brand or "").strip(), ())
    contacts = tuple(sorted(str(v) for v in (getattr(brand, "contacts", None) or {}).values() if v))
    return _compiled((brand.name or "").strip(), contacts)


def mask_brand(text: str, brand: Any) -> str:
    """Return `text` with `brand` (a Brand row or a name) masked in every way it can be named."""
    return brand_mask(brand).apply(text)
