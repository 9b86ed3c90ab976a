"""The scorer's "why" notes in French: every reason and note it writes has a French wording."""

from __future__ import annotations

from qualibench.scorer.engine import score_reply
from qualibench.scorer.rubric import load_rubric
from qualibench.scorer.validation import load_part, load_scenarios, score_part
from qualibench.scorer.wording import why_in


def _reasons() -> set[str]:
    seen: set[str] = set()
    for row in score_part(load_part("dev"), load_scenarios()):
        result = row.get("auto")
        if result is not None:
            seen.update(sp.why for spans in result.evidence.values() for sp in spans)
            seen.update(result.notes)
    scenario = load_scenarios()["complaint-late-delivery-fr"]
    rubric = load_rubric()
    for text in ("", "> quoted only\n> history", "🙂🙂", "x" * 25_000, "Hello, we are on it and will come back."):
        result = score_reply(text, scenario, rubric)
        seen.update(sp.why for spans in result.evidence.values() for sp in spans)
        seen.update(result.notes)
    return seen


def test_every_reason_and_note_of_the_scorer_has_a_french_wording():
    reasons = _reasons()
    assert len(reasons) > 100
    untranslated = sorted(w for w in reasons if why_in(w, "fr") == w)
    assert untranslated == []
    assert all(why_in(w, "en") == w for w in reasons)  # stored English is the English wording


def test_french_wording_keeps_quoted_labels_and_values():
    why = "key point 'Annonce une date ou un délai de livraison': negated: a refusal or a 'no' (half credit); pattern 'livré le'"
    assert why_in(why, "fr") == ("point clé 'Annonce une date ou un délai de livraison' : négation : un refus ou un "
                                 "« non » (moitié des points) ; motif 'livré le'")
    assert why_in("restates the customer's '58.98' near the opening", "fr") == "reprend '58.98' du client dès l'ouverture"
    assert why_in("reply in en, request in fr", "fr") == "réponse en anglais, demande en français"
    assert why_in("something a newer scorer wrote", "fr") == "something a newer scorer wrote"  # unknown: as stored
