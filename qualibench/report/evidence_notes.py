"""The automatic scorer's notes ("why" of each evidence span) in the report's language.

The scorer writes short English notes for analysts ("key point 'Refund': asserted; pattern
'rembours'", "restates the customer's 'montant' near the opening"). A brand's fiche shows them
to a client, so they are mapped here to plain sentences in French or English, without the
scorer's internals (patterns, lemmas). A note no rule knows is shown as written in English and
left out in French; `qualibench score explain` always shows the scorer's own notes.
The scorer has no French notes of its own: this mapping is the report's, kept beside the
scorer's wording (qualibench.scorer.engine and signals), and tested against a scored demo.
"""

from __future__ import annotations

import re

_KEY_POINT = re.compile(r"""^key point (['"])(?P<label>.*?)\1: (?P<rest>.*)$""", re.S)
# what the scorer says of a key point -> (fr, en)
_KEY_POINT_STATES = (
    ("asserted; close to", ("affirmé, en termes proches de ceux attendus", "stated, in words close to the expected ones")),
    ("asserted", ("affirmé", "stated")),
    ("a clear ", ("réponse nette à la question posée", "a clear answer to the yes/no question")),
    ("negated", ("refus ou réponse négative (moitié des points)", "a refusal or a “no” (half credit)")),
    ("restates the request", ("reprend la demande : reformulation, pas une réponse",
                              "restates the request: reformulation, not an answer")),
    ("hedged", ("affirmé avec réserve (moitié des points)", "hedged (half credit)")),
    ("in a promise to come back later", ("promis pour plus tard, pas encore une réponse",
                                         "promised for later, not an answer yet")),
)
_NOTES = {
    "greeting": ("salutation", "greeting"),
    "signed": ("signature", "signature"),
    "closing formula": ("formule de politesse finale", "closing formula"),
    "thanks the customer": ("remercie le client", "thanks the customer"),
    "signed by a named person": ("signée par une personne nommée", "signed by a named person"),
    "a formula that could go to anybody": ("formule qui pourrait s'adresser à n'importe qui",
                                           "a formula that could go to anybody"),
    "the customer's name": ("nom du client", "the customer's name"),
    "reformulation marker": ("marque de reformulation", "reformulation marker"),
    "sympathy tied to this customer's situation": ("empathie liée à la situation du client",
                                                   "sympathy tied to the customer's situation"),
    "the brand owns the fault": ("la marque reconnaît sa responsabilité", "the brand owns the fault"),
    "names what it means for the customer": ("nomme les conséquences pour le client",
                                             "names what it means for the customer"),
    "marketing push": ("sollicitation commerciale", "marketing push"),
    "nothing answered yet, but a promise to act": ("pas encore de réponse, mais un engagement à agir",
                                                   "nothing answered yet, but a promise to act"),
    "courteous register": ("registre courtois", "courteous register"),
    "sends the customer to another channel instead of answering": (
        "renvoie le client vers un autre canal au lieu de répondre",
        "sends the customer to another channel instead of answering"),
    "sends the customer to another channel instead of answering, with a reason": (
        "renvoie le client vers un autre canal au lieu de répondre, en donnant une raison",
        "sends the customer to another channel instead of answering, with a reason"),
    "also sends the customer to another channel": ("renvoie aussi le client vers un autre canal",
                                                   "also sends the customer to another channel"),
    "only a premium-rate number: nothing answered": ("seulement un numéro surtaxé : aucune réponse",
                                                     "only a premium-rate number: nothing answered"),
    "deflection to a premium-rate number next to the answer": ("renvoi vers un numéro surtaxé en plus de la réponse",
                                                               "a premium-rate number next to the answer"),
    "condescending": ("ton condescendant", "condescending"),
    "asks again for information the customer already gave": (
        "redemande une information que le client avait déjà donnée",
        "asks again for information the customer already gave"),
}
_LANGUAGES = {"fr": ("français", "French"), "en": ("anglais", "English")}
_WRONG_LANGUAGE = re.compile(r"^reply in (\w+), request in (\w+)$")
_RESTATES = re.compile(r"^restates the customer's .* (near the opening|later in the reply)$", re.S)
_CUSTOMER_FACT = re.compile(r"^the customer's ([\w-]+)$")


def evidence_note(why: str, lang: str) -> str:
    """Return the scorer's note `why` as a reader's sentence in `lang` ("" when there is none)."""
    why = (why or "").strip()
    i = 0 if lang == "fr" else 1
    if why in _NOTES:
        return _NOTES[why][i]
    m = _KEY_POINT.match(why)
    if m:
        label, rest = m.group("label"), m.group("rest")
        state = next((t[i] for start, t in _KEY_POINT_STATES if rest.startswith(start)), None)
        if state is None:
            return "" if i == 0 else f"key point “{label}”"
        return f"point clé « {label} » : {state}" if i == 0 else f"key point “{label}”: {state}"
    m = _RESTATES.match(why)
    if m:
        early = m.group(1) == "near the opening"
        if i == 0:
            return "reprend les termes du client " + ("dès l'ouverture" if early else "plus loin dans la réponse")
        return "restates the customer's words " + ("near the opening" if early else "later in the reply")
    m = _WRONG_LANGUAGE.match(why)
    if m:
        reply, request = (_LANGUAGES.get(x, (x, x))[i] for x in m.groups())
        return f"réponse en {reply}, demande en {request}" if i == 0 else f"reply in {reply}, request in {request}"
    m = _CUSTOMER_FACT.match(why)
    if m:
        return "reprend une donnée du client" if i == 0 else "uses a detail the customer gave"
    return "" if i == 0 else why
