"""The scorer's "why" notes in the reader's language: one function for every report and screen.

The scorer writes each span's reason and each note in English, and stores them so (the evidence
of a score row never changes). `why_in(why, "fr")` gives the French wording of any stored reason
or note; quoted labels, patterns and values are kept as written. A reason this table does not know
is given back unchanged, so an old score row still reads, in English.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

_LANG_FR = {"fr": "français", "en": "anglais"}

# Whole reasons and notes, English -> French.
_FR: dict[str, str] = {
    "asserted": "affirmé",
    "restates the request (reformulation, not an answer)": "reprend la demande (reformulation, pas une réponse)",
    "hypothetical ('si ... était', 'if ... were'): nothing asserted":
        "hypothétique (« si ... était ») : rien n'est affirmé",
    "only in a condition ('si', 'if'): nothing asserted": "seulement dans une condition (« si ») : rien n'est affirmé",
    "a clear 'no' answers this yes/no question": "un « non » clair répond à cette question fermée",
    "negated: a refusal or a 'no' (half credit)": "négation : un refus ou un « non » (moitié des points)",
    "hedged ('pourrait', 'may'): half credit": "affirmation prudente (« pourrait ») : moitié des points",
    "in a promise to come back later, not an answer": "dans une promesse de revenir plus tard, pas une réponse",
    "reformulation marker": "marqueur de reformulation",
    "the request pasted back nearly word for word: capped": "la demande recopiée presque mot pour mot : plafonné",
    "sympathy tied to this customer's situation": "compassion liée à la situation de ce client",
    "a formula that could go to anybody": "une formule qui pourrait s'adresser à n'importe qui",
    "the brand owns the fault": "la marque reconnaît sa faute",
    "names what it means for the customer": "nomme ce que cela représente pour le client",
    "the customer's name": "le nom du client",
    "signed by a named person": "signé par une personne nommée",
    "greeting": "salutation",
    "courteous register": "ton courtois",
    "thanks the customer": "remercie le client",
    "closing formula": "formule de politesse finale",
    "signed": "signé",
    "only a premium-rate number: nothing answered": "seulement un numéro surtaxé : rien n'est répondu",
    "deflection to a premium-rate number next to the answer": "renvoi vers un numéro surtaxé à côté de la réponse",
    "sends the customer to another channel instead of answering":
        "renvoie le client vers un autre canal au lieu de répondre",
    "sends the customer to another channel instead of answering, with a reason":
        "renvoie le client vers un autre canal au lieu de répondre, avec une raison",
    "also sends the customer to another channel": "renvoie aussi le client vers un autre canal",
    "nothing answered yet, but a promise to act": "rien de répondu encore, mais une promesse d'agir",
    "marketing push": "publicité",
    "condescending": "condescendant",
    "asks again for information the customer already gave": "redemande une information déjà donnée par le client",
    "empty reply: nothing to score": "réponse vide : rien à noter",
    "the reply holds only quoted history: nothing of the brand's own to score":
        "la réponse ne contient que l'historique cité : rien de la marque à noter",
    "no words to score (emoji or symbols only)": "aucun mot à noter (emoji ou symboles seulement)",
    "tells the customer to do what they say they already tried":
        "demande au client de faire ce qu'il dit avoir déjà essayé",
    "a template: nothing of this customer named (name, file, signer) and nothing of their situation acknowledged":
        "un modèle type : rien de ce client n'est nommé (nom, dossier, signataire) ni rien de sa situation",
    "reads like an acknowledgement: no key point of the request is answered":
        "se lit comme un accusé de réception : aucun point clé de la demande n'est traité",
}


def _lang(code: str) -> str:
    return _LANG_FR.get(code, code)


# Reasons built around a quoted label, value or number: (English pattern, French template).
_FR_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), t) for p, t in (
    (r"^restates the customer's (?P<k>.+) near the opening$", "reprend {k} du client dès l'ouverture"),
    (r"^restates the customer's (?P<k>.+) later in the reply$", "reprend {k} du client plus loin dans la réponse"),
    (r"^the customer's (?P<k>.+)$", "une donnée du dossier du client ({k})"),
    (r"^reply in (?P<a>\w+), request in (?P<b>\w+)$", "réponse en {a}, demande en {b}"),
    (r"^reply written in (?P<a>\w+), the request was in (?P<b>\w+)$", "réponse écrite en {a}, la demande était en {b}"),
    (r"^long reply: the first (?P<n>[\d,]+) characters are scored$",
     "réponse longue : seuls les {n} premiers caractères sont notés"),
    (r"^mixed languages \((?P<a>[^)]*)\): read as (?P<b>\w+)$", "langues mêlées ({a}) : lue comme {b}"),
    (r"^key point (?P<k>.+) has no patterns, examples or description: matched on its label$",
     "le point clé {k} n'a ni motifs, ni exemples, ni description : reconnu sur son libellé"),
    (r"^key point (?P<k>.+) has no patterns or examples: matched on its description$",
     "le point clé {k} n'a ni motifs ni exemples : reconnu sur sa description"),
    (r"^pattern (?P<k>.+)$", "motif {k}"),
    (r"^example (?P<k>.+)$", "exemple {k}"),
    (r"^description (?P<k>.+)$", "description {k}"),
    (r"^close to (?P<k>.+)$", "proche de {k}"),
    (r"^made moot by the answer to (?P<k>.+) \(the guide: a conditional question made moot is answered\)$",
     "sans objet après la réponse à {k} (le guide : une question conditionnelle devenue sans objet est traitée)"),
))
# "key point 'LABEL': REASON; SOURCE" (the label is quoted by repr: '...' or "...").
_KEY_POINT = re.compile(r"""^key point (?P<label>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"): (?P<rest>.*)$""", re.S)


def why_in(why: str, language: str = "en", labels: Mapping[str, str] | None = None) -> str:
    """Return the scorer's reason or note `why` worded in `language` ("en" as stored, or "fr").

    `labels` maps a key point's label as the scorer quotes it (the scenario's own) to the label to
    show instead (the report's language): a key point's reason then names it so.
    """
    if not why:
        return why
    kp = _KEY_POINT.match(why)
    if kp and (language == "fr" or labels):
        label = _label(kp.group("label"), labels)
        if language != "fr":
            return f"key point {label}: {kp.group('rest')}"
        parts = [why_in(p, "fr") for p in kp.group("rest").split("; ")]
        return f"point clé {label} : " + " ; ".join(parts)
    if language != "fr":
        return why
    if why in _FR:
        return _FR[why]
    for pattern, template in _FR_SHAPES:
        m = pattern.match(why)
        if m:
            values = {k: (_lang(v) if k in ("a", "b") else v) for k, v in m.groupdict().items()}
            return template.format(**values)
    return why


def _label(quoted: str, labels: Mapping[str, str] | None) -> str:
    # the scorer quotes the label with repr(): read it back as the string it was
    if not labels:
        return quoted
    try:
        own = ast.literal_eval(quoted)
    except (ValueError, SyntaxError):
        return quoted
    shown = labels.get(own) if isinstance(own, str) else None
    return repr(shown) if shown else quoted


__all__ = ["why_in"]
