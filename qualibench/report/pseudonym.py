"""Pseudonymisation of reply excerpts: agent names and customer data replaced by placeholders."""

from __future__ import annotations

import re

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# French and international phone numbers: 01 23 45 67 89, +33 1 23 45 67 89, 0123456789
PHONE = re.compile(r"(?:\+\d{1,3}[\s.]?)?(?:\(0\)\s?)?\d{1,2}(?:[\s.-]?\d{2}){4}\b")
ORDER = re.compile(r"\b[A-Z]{2,5}-?\d{5,}\b")
NAME_LINE = re.compile(r"^\s*([A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){1,2})\s*$")


def signature_names(signature: str) -> list[str]:
    """Return the lines of a signature that look like a person's name ("Julie Martin")."""
    out = []
    for line in signature.splitlines():
        m = NAME_LINE.match(line)
        if m and not any(w.lower() in ("service", "client", "clients", "team", "équipe", "support")
                         for w in m.group(1).split()):
            out.append(m.group(1))
    return out


def pseudonymise(text: str, *, customer: list[str], agents: list[str], tokens: list[str],
                 labels: dict[str, str]) -> str:
    """Return `text` with e-mails, phones, order numbers, customer and agent names replaced."""
    out = EMAIL.sub(labels["email"], text)
    for tok in sorted({t for t in tokens if t and len(t) >= 3}, key=len, reverse=True):
        out = out.replace(tok, labels["order"])
    out = ORDER.sub(labels["order"], out)
    out = PHONE.sub(labels["phone"], out)
    for name, label in [(n, labels["agent"]) for n in agents] + [(n, labels["customer"]) for n in customer]:
        if name and len(name) >= 2:
            out = re.sub(rf"\b{re.escape(name)}\b", label, out)
    return out
