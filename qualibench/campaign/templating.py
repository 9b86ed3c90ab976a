"""Placeholders in scenario texts ({first_name}, {brand}, {order_number}) and their values."""

from __future__ import annotations

import random
import re
import unicodedata

from .spec import BrandSpec, PersonaSpec

PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")

# Values every probe has, whatever the scenario.
BUILTIN_PLACEHOLDERS = (
    "first_name", "last_name", "full_name", "email", "phone", "city",
    "brand", "brand_name", "sector", "x_handle", "signature",
)

# Longest plausible values, used to check the X variant fits in 280 characters.
_LONGEST = {
    "first_name": "Marie-Christine", "last_name": "Dupont-Lefebvre", "full_name": "Marie-Christine Dupont-Lefebvre",
    "email": "marie-christine.dupont@example.org", "phone": "+33 6 12 34 56 78", "city": "Saint-Étienne",
    "brand": "A Brand Name Of Some Length", "brand_name": "A Brand Name Of Some Length",
    "sector": "telecommunications", "x_handle": "@abcdefghijklmno", "signature": "Marie-Christine Dupont-Lefebvre",
}


def placeholders(text: str) -> list[str]:
    return PLACEHOLDER.findall(text or "")


def draw_fill(pattern: str, rng: random.Random) -> str:
    """Return a value for a fill pattern: '#' digit, '?' capital letter, 'choice:a|b|c'."""
    if pattern.startswith("choice:"):
        options = [o.strip() for o in pattern[len("choice:"):].split("|") if o.strip()]
        return rng.choice(options) if options else ""
    out = []
    for ch in pattern:
        if ch == "#":
            out.append(str(rng.randrange(10)))
        elif ch == "?":
            out.append(chr(ord("A") + rng.randrange(26)))
        else:
            out.append(ch)
    return "".join(out)


def longest_fill(pattern: str) -> str:
    if pattern.startswith("choice:"):
        options = pattern[len("choice:"):].split("|")
        return max(options, key=len).strip() if options else ""
    return pattern.replace("#", "9").replace("?", "W")


def values_for(persona: PersonaSpec | None, brand: BrandSpec | None, fills: dict[str, str]) -> dict[str, str]:
    """Return the placeholder values of one probe."""
    values: dict[str, str] = {}
    if persona is not None:
        full = f"{persona.first_name} {persona.last_name}".strip()
        values.update(first_name=persona.first_name, last_name=persona.last_name, full_name=full,
                      email=persona.email, phone=persona.phone, city=persona.city, signature=full)
    if brand is not None:
        handle = brand.contacts.get("x", "")
        values.update(brand=brand.name, brand_name=brand.name, sector=brand.sector,
                      x_handle=("@" + handle.lstrip("@")) if handle else brand.name)
    values.update(fills)
    return values


def render(text: str, values: dict[str, str]) -> str:
    """Fill every {placeholder}; unknown ones are left as they are (check reports them)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


def longest_values(fills: dict[str, str]) -> dict[str, str]:
    values = dict(_LONGEST)
    values.update({k: longest_fill(v) for k, v in fills.items()})
    return values


def ascii_slug(text: str, sep: str = "-") -> str:
    """Return a lowercase ASCII slug of `text` ("Crédit Agricole" -> "credit-agricole")."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    out = re.sub(r"[^a-z0-9]+", sep, text).strip(sep)
    return out or "x"
