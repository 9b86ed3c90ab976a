"""mail.prefilter: the words a pattern requires, and searches behind them answering as the pattern."""

from __future__ import annotations

import re

import pytest

from qualibench.mail import classify
from qualibench.mail.prefilter import Prefiltered, prefiltered, required_words
from tests.plugins.mail_corpus import PARSEABLE


def test_the_words_come_from_the_pattern_s_literals_alternatives_and_lookarounds():
    assert required_words(re.compile(r"nous avons bien re[çc]u|accus[ée] de r", re.I)) == {
        "nous avons bien reçu", "nous avons bien recu", "accusé de r", "accuse de r"}
    assert required_words(re.compile(r"^(?=.*\bwill reply\b)\s*\w+")) == {"will reply"}
    assert required_words(re.compile(r"(?:abc)?\s+defg")) == {"defg"}
    assert required_words(re.compile(r"TICKET\s*#\d+")) == {"ticket"}  # lowercase, like the text
    # No guarantee: an alternative that needs no word, or only a class of letters.
    assert required_words(re.compile(r"merci|\d{4}")) is None
    assert required_words(re.compile(r"[a-z]+@[a-z]+")) == {"@"}
    assert required_words(re.compile(r"\w+")) is None


@pytest.mark.parametrize("text", [
    "CASE 1234", "caſe 1234",  # re.IGNORECASE matches "ſ" for "s"
    "TİCKET 5", "tıcket 5",  # ... and "İ", "ı" for "i"
    "Référence : AB-123", "RÉFÉRENCE : AB-123", "nothing here",
])
def test_a_prefiltered_search_answers_what_the_pattern_answers_whatever_the_case(text):
    pattern = re.compile(r"\b(?:case|ticket|r[ée]f[ée]rence)\b\s*:?\s*(\S+)", re.I)
    fast = prefiltered(pattern)
    assert isinstance(fast, Prefiltered)
    want = pattern.search(text)
    got = fast.search(text)
    assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups()))
    assert fast.findall(text) == pattern.findall(text)
    assert fast.sub("-", text) == pattern.sub("-", text)
    assert fast.split(text) == pattern.split(text)


def test_a_pattern_without_selective_words_is_left_as_it_is():
    pattern = re.compile(r"\d+\s*e")
    assert prefiltered(pattern) is pattern


def _texts(mail_fixture_bytes) -> list[str]:
    from qualibench.mail.parse import parse_message

    texts = []
    for name in PARSEABLE:
        msg = parse_message(mail_fixture_bytes(name))
        texts += [msg.subject, msg.text[:5000], classify._fold(msg.text[:5000])]
        texts += [classify._fold(s) for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", msg.reply_text or msg.text)]
    return [t for t in texts if t]


def test_every_classifier_pattern_answers_through_its_words_as_it_does_alone(mail_fixture_bytes):
    """The classifier's own patterns (prefiltered at import) on the mail corpus's texts and
    sentences: same match, same span, same groups as the pattern run alone."""
    wrapped = [v for v in vars(classify).values() if isinstance(v, Prefiltered)]
    wrapped += [p for _, p in classify._ROLES] + list(classify._REF_PATTERNS)
    assert len(wrapped) > 30
    texts = _texts(mail_fixture_bytes)
    matched = 0
    for fast in wrapped:
        for text in texts:
            want, got = fast.pattern.search(text), fast.search(text)
            assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), (
                fast.pattern.pattern[:60], text[:80])
            matched += want is not None
    assert matched > 100  # the corpus exercises the patterns, not only their absence
