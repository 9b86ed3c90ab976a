"""mail.prefilter: the words a pattern requires, and searches behind them answering as the pattern."""

from __future__ import annotations

import re

import pytest

from qualibench.mail import classify, prefilter, quote_patterns, signature
from qualibench.mail.prefilter import Prefiltered, prefilter_namespace, prefiltered, required_words
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


def _texts(mail_fixture_bytes) -> tuple[list[str], list[str]]:
    """The mail corpus's subjects, texts and sentences (folded as the classifier reads them),
    and their lines (as the reply splitter reads them)."""
    from qualibench.mail.parse import parse_message

    texts, lines = [], []
    for name in PARSEABLE:
        msg = parse_message(mail_fixture_bytes(name))
        texts += [msg.subject, msg.text[:5000], classify._fold(msg.text[:5000])]
        texts += [classify._fold(s) for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", msg.reply_text or msg.text)]
        lines += msg.text.split("\n")
    return [t for t in texts if t], [x for x in lines if x.strip()]


def _same(fast, texts: list[str]) -> int:
    matched = 0
    for text in texts:
        want, got = fast.regex.search(text), fast.search(text)
        assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), (
            fast.pattern[:60], text[:80])
        matched += want is not None
    return matched


def _wrapped(module) -> list[Prefiltered]:
    found = [v for v in vars(module).values() if isinstance(v, Prefiltered)]
    for value in vars(module).values():
        if isinstance(value, tuple | list):
            found += [x[1] if isinstance(x, tuple) else x for x in value
                      if isinstance(x[1] if isinstance(x, tuple) else x, Prefiltered)]
    return found


def test_every_mail_pattern_answers_through_its_words_as_it_does_alone(mail_fixture_bytes):
    """The classifier's, the reply splitter's and the signature's own patterns (prefiltered at
    import) on the mail corpus: same match, same span, same groups as each pattern alone."""
    texts, lines = _texts(mail_fixture_bytes)
    wrapped = _wrapped(classify)
    assert len(wrapped) > 30
    assert sum(_same(fast, texts) for fast in wrapped) > 100  # matches are exercised too
    assert sum(_same(fast, lines) for fast in _wrapped(quote_patterns) + _wrapped(signature)) > 50


def test_without_the_automaton_each_pattern_tests_its_own_words(monkeypatch, mail_fixture_bytes):
    monkeypatch.setattr(prefilter, "_ahocorasick", None)
    namespace = {"ACK": re.compile(classify._ACK_WORDING.pattern, classify._ACK_WORDING.flags),
                 "REF": [re.compile(p.pattern, p.flags) for p in classify._REF_PATTERNS]}
    prefilter_namespace(namespace)
    texts, _lines = _texts(mail_fixture_bytes)
    assert _same(namespace["ACK"], texts) > 3
    assert sum(_same(fast, texts) for fast in namespace["REF"]) > 3
    assert namespace["ACK"].words and not namespace["ACK"].bit  # words tested one by one


def test_a_search_tried_only_where_a_leading_word_starts_finds_what_the_pattern_finds():
    """Every match of `\\b(?:ticket|demande)...` starts with one of its words: the pattern is
    tried at those places only, and must find the same leftmost match as a full search."""
    pattern = re.compile(r"\b(?:ticket|demande)\s*(?:n°|#|:)\s*(\w{3,})", re.I)
    fast = prefiltered(pattern)
    assert fast.leading == ("demande", "ticket")
    for text in ["Votre demande a bien été reçue. Ticket n° 48213, demande #77",
                 "superticket #123 puis TICKET : 999", "İticket: 4444", "rien"]:
        want, got = pattern.search(text), fast.search(text)
        assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), text


def test_a_rare_character_alone_is_a_selective_word():
    """"#" or "[" is shorter than a pattern's `shortest` but rare in prose: the pattern runs only
    on texts holding it (a 4 kB body without "#" is answered without the regex)."""
    pattern = re.compile(r"(?:^|[\s(])#(\d{4,})\b")
    fast = prefiltered(pattern)
    assert isinstance(fast, Prefiltered) and fast.words == ("#",)
    for text in ["Ticket #48213 ouvert", "(#1234) merci", "rien " * 300, "#12 non", "#99999"]:
        want, got = pattern.search(text), fast.search(text)
        assert (got and (got.span(), got.groups())) == (want and (want.span(), want.groups())), text


def test_what_a_pattern_found_in_a_short_text_is_kept_by_text_and_bounded(monkeypatch):
    monkeypatch.setattr(prefilter, "_KEPT", 3)
    namespace = {"ACK": re.compile(r"nous avons bien re[çc]u (\w+)", re.I)}
    prefilter_namespace(namespace)
    fast = namespace["ACK"]
    sentence = "Nous avons bien reçu votre demande."
    first = fast.search(sentence)
    again = fast.search("".join(list(sentence)))  # an equal text, another object
    assert first.group(1) == again.group(1) == "votre"
    assert fast.match(sentence) is not None and fast.match("Alors " + sentence) is None
    for k in range(10):
        assert fast.search(f"rien {k}") is None
        assert fast.group.mask(f"autre {k}") == 0
    assert len(fast._searched) <= 3 and len(fast.group._masks) <= 3  # started afresh when full
    body = "Bonjour. " * 200 + sentence  # a whole body: its answer is not kept
    assert fast.search(body).group(1) == "votre"
    assert body not in fast._searched and body not in fast.group._masks


def test_latin1_text_is_lowered_as_str_lower_does():
    from qualibench.mail.prefilter import _lowered

    every = "".join(map(chr, range(256)))
    assert _lowered(every * 2) == (every * 2).lower()
    assert _lowered("RÉFÉRENCE ÀÉÎÕÜ Ÿ") == "référence àéîõü ÿ"  # (Ÿ is no Latin-1 character)
    assert _lowered("TİCKET ſ") == "ticket s"  # folded as re.IGNORECASE matches


def test_behind_an_automaton_a_pattern_may_require_many_words():
    """A long alternation (the unread-mailbox notice's ~40 shapes) needs one of ~100 words: too
    many to test one by one, one pass of its group's automaton; a long text too."""
    alternatives = [f"mot{k:03d} (?:un|deux)" for k in range(150)]
    namespace = {"MANY": re.compile("|".join(alternatives))}
    prefilter_namespace(namespace)
    fast = namespace["MANY"]
    assert fast.search("rien") is None and fast.words and len(fast.words) > 96 and fast.bit
    body = "Bonjour. " * 200 + "mot149 deux"
    assert fast.search(body).group() == "mot149 deux" and fast.search(body[:-11]) is None
    assert len(required_words(fast.regex) or ()) <= 96  # (alone, each word would be a test)
