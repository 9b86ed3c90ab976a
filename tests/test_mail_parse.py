"""parse_message over the real-world corpus, on damaged input, and on a 50 MB attachment."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualibench.mail.classify import classify
from qualibench.mail.parse import ParsedMessage, UnparseableMessage, decode_bytes, parse_message
from tests.plugins.mail_corpus import EXPECTED, MAIL_FIXTURES, PARSEABLE


def test_corpus_has_at_least_30_messages_all_described():
    files = sorted(p.name for p in MAIL_FIXTURES.glob("*.eml"))
    assert len(files) >= 30
    assert set(files) == set(EXPECTED), "every fixture needs an entry in expected.yaml and back"


@pytest.mark.parametrize("name", PARSEABLE)
def test_corpus_headers_and_body(name, mail_fixture_bytes):
    exp = EXPECTED[name]
    msg = parse_message(mail_fixture_bytes(name))
    assert isinstance(msg, ParsedMessage)
    for key in ("subject", "from_address", "from_name", "html_only", "returned_message_id"):
        if key in exp:
            assert getattr(msg, key) == exp[key], key
    for key in ("in_reply_to", "references"):
        if key in exp:
            assert getattr(msg, key) == exp[key], key
    if "subject_contains" in exp:
        assert exp["subject_contains"] in msg.subject
    if "date" in exp:
        want = datetime.fromisoformat(exp["date"]) if exp["date"] else None
        assert msg.date == want
    if msg.date is not None:
        assert msg.date.tzinfo is not None and msg.date.utcoffset().total_seconds() == 0
    for needle in exp.get("text_contains", []):
        assert needle in msg.text
    for needle in exp.get("defects_contain", []):
        assert any(needle in d for d in msg.defects), msg.defects
    if "attachments" in exp:
        assert [[n, t] for n, t, _ in msg.attachments] == exp["attachments"]
        assert all(size > 0 for _, _, size in msg.attachments)
    if "charset_in" in exp:
        assert msg.charset in exp["charset_in"]
    # Every address list is lowercased and made of addresses only.
    for addr in msg.to + msg.cc + msg.delivered_to + msg.x_original_to + msg.reply_to:
        assert addr == addr.lower() and "@" in addr
    # Header names are lowercased and values decoded (no raw encoded words left).
    assert all(k == k.lower() for k in msg.headers)
    assert "=?" not in msg.subject


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e.get("unparseable")))
def test_corpus_unparseable(name, mail_fixture_bytes):
    with pytest.raises(UnparseableMessage) as err:
        parse_message(mail_fixture_bytes(name))
    assert err.value.hint


def test_delivered_to_and_original_to_are_read():
    msg = parse_message((MAIL_FIXTURES / "autoreply-exchange-oof.eml").read_bytes())
    assert msg.delivered_to == ["marie.durand.k3f9@alias.example"]
    assert msg.x_original_to == ["marie.durand.k3f9@alias.example"]
    assert "marie.durand.k3f9@alias.example" in msg.recipients()


def test_wrong_charset_declaration_falls_back_and_is_recorded():
    text, used, defect = decode_bytes("Désolé – 5 €".encode("cp1252"), "utf-8")
    assert text == "Désolé – 5 €"
    assert used == "cp1252"
    assert "utf-8" in defect


def test_unknown_charset_name_is_not_fatal():
    text, used, _ = decode_bytes("carte cadeau 50 €".encode(), "x-no-such-charset")
    assert text == "carte cadeau 50 €"
    assert used == "utf-8"


def test_empty_input_is_unparseable():
    with pytest.raises(UnparseableMessage):
        parse_message(b"")
    with pytest.raises(UnparseableMessage):
        parse_message(b"\r\n\r\n  ")


def test_headers_only_message_is_usable():
    msg = parse_message(b"From: a@brand-a.example\r\nSubject: hi\r\n\r\n")
    assert msg.from_address == "a@brand-a.example"
    assert msg.text == ""
    assert msg.date is None


def test_minus_zero_offset_date_reads_as_utc():
    msg = parse_message(b"From: a@b.example\r\nDate: Tue, 3 Mar 2026 10:02:00 -0000\r\n\r\nx\r\n")
    assert msg.date == datetime(2026, 3, 3, 10, 2, tzinfo=UTC)


@pytest.mark.slow
# 50 MB ends on a 40-character base64 line; 1 MB on an 8-character one, too short for the run
# the parser skips, so it is counted apart.
@pytest.mark.parametrize("size", [50 * 1024 * 1024, 1024 * 1024])
def test_50mb_attachment_is_listed_with_its_size(tmp_path, size):
    payload = base64.encodebytes(b"\x00\x01\x02\x03" * (size // 4))
    raw = b"".join(
        [
            b"From: Brand Z <support@brand-z.example>\r\nTo: marie.durand.k3f9@alias.example\r\n",
            b"Subject: RE: Catalogue\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n",
            b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n',
            b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
            b"Bonjour, voici le catalogue complet en pi\xc3\xa8ce jointe.\r\n\r\nCordialement,\r\nZo\xc3\xa9\r\n",
            b'--b1\r\nContent-Type: application/pdf; name="catalogue.pdf"\r\n',
            b'Content-Disposition: attachment; filename="catalogue.pdf"\r\n',
            b"Content-Transfer-Encoding: base64\r\n\r\n",
            payload.replace(b"\n", b"\r\n"),
            b"--b1--\r\n",
        ]
    )
    msg = parse_message(raw)
    assert msg.attachments == [("catalogue.pdf", "application/pdf", size)]
    assert "voici le catalogue complet en pièce jointe" in msg.reply_text


# Damage that real transport and broken mailers cause: cut messages, stray MIME syntax, raw bytes.
_MIME_SHRAPNEL = [
    b"\r\n",
    b"\n",
    b"--",
    b"=?utf-8?q?",
    b"?=",
    b"\xff",
    b"\x00",
    b"charset=",
    b"Date: ",
    b"<",
    b">",
    b":",
    b";",
    b'"',
    b"filename*=",
    b"''",
    b"message/rfc822",
    b"\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Type: message/delivery-status\r\n\r\n",
    b"<blockquote>",
    b"<?xml version='1.0'?>",
]
_edit = st.tuples(
    st.integers(min_value=0, max_value=6000),
    st.one_of(st.sampled_from(_MIME_SHRAPNEL), st.binary(min_size=1, max_size=24)),
    st.integers(min_value=0, max_value=200),
)


def _apply(raw: bytes, edits: list[tuple[int, bytes, int]]) -> bytes:
    for pos, insert, cut in edits:
        pos = min(pos, len(raw))
        raw = raw[:pos] + insert + raw[pos + cut :]
    return raw


_damaged = st.one_of(
    st.binary(max_size=2000),
    st.builds(
        _apply,
        st.sampled_from(sorted(PARSEABLE)).map(lambda name: (MAIL_FIXTURES / name).read_bytes()),
        st.lists(_edit, min_size=1, max_size=8),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_damaged)
def test_damaged_bytes_never_crash_parse(raw):
    try:
        msg = parse_message(raw)
    except UnparseableMessage:
        return
    assert isinstance(msg.text, str) and isinstance(msg.reply_text, str)
    assert msg.date is None or msg.date.tzinfo is not None
    classify(msg)  # the classifier must cope with whatever the parser lets through


def test_8bit_content_disposition_does_not_break_the_walk():
    # Found by fuzzing: compat32 hands back Header objects for 8-bit header values.
    raw = (
        b"From: a@brand-a.example\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nBonjour\r\n--b\r\n"
        b'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="r\xe9\xff.pdf"\r\n'
        b"\r\nJVBERi0=\r\n--b--\r\n"
    )
    msg = parse_message(raw)
    assert msg.text.strip() == "Bonjour"
    assert [(t, s > 0) for _, t, s in msg.attachments] == [("application/pdf", True)]


def test_large_base64_text_body_is_read_not_skipped():
    # Big base64 runs are skipped only for attachments; a long text part must still be read.
    line = "Votre dossier est en cours de traitement par notre équipe. " * 2
    body = (line + "\n") * 9000
    encoded = base64.encodebytes(body.encode("utf-8")).replace(b"\n", b"\r\n")
    raw = (
        b"From: a@brand-a.example\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + encoded
    )
    assert len(encoded) > 1_000_000
    msg = parse_message(raw)
    # Read, then cut for scoring at the text bound (bounds.py), with a note.
    from qualibench.mail.bounds import MAX_TEXT_CHARS

    assert msg.text == body[:MAX_TEXT_CHARS]
    assert msg.notes and "truncated" in msg.notes[0]


def test_html_to_text_keeps_paragraphs_and_drops_scripts():
    from qualibench.mail.htmltext import html_to_text

    html = (
        "<html><head><style>p{color:red}</style></head><body>"
        "<p>Bonjour Marie,</p><p>Votre colis<br>part demain.</p>"
        "<ul><li>Suivi : 123</li><li>Transporteur : Colissimo</li></ul>"
        "<script>track()</script><blockquote><p>Ma question</p></blockquote></body></html>"
    )
    assert html_to_text(html) == (
        "Bonjour Marie,\n\nVotre colis\npart demain.\n\nSuivi : 123\nTransporteur : Colissimo\n\n"
        "> Ma question"
    )
    assert html_to_text("") == ""
    assert html_to_text("<?xml version='1.0' encoding='utf-8'?><p>ok</p>") == "ok"


def test_encoded_display_name_with_a_comma_keeps_one_address():
    raw = (
        b"From: =?utf-8?q?Durand=2C_Marie?= <Marie.Durand.K3F9@Alias.example>\r\n"
        b"To: =?iso-8859-1?q?Service_Client=2C_Brand_A?= <sav@brand-a.example>, b@brand-a.example\r\n"
        b"Subject: x\r\n\r\nBonjour\r\n"
    )
    msg = parse_message(raw)
    assert msg.from_address == "marie.durand.k3f9@alias.example"
    assert msg.from_name == "Durand, Marie"
    assert msg.to == ["sav@brand-a.example", "b@brand-a.example"]


def _model(msg) -> tuple[object, ...]:
    """A compat32 Message as the stdlib parser leaves it: every attribute, defects by kind."""
    state = {k: v for k, v in vars(msg).items() if k != "defects"}
    return state, [type(d) for d in msg.defects]


def test_a_single_part_message_is_read_as_the_stdlib_parser_reads_it():
    """parse._single_part stands in for message_from_bytes(policy=compat32) on single-part
    messages with plain headers (the feed parser reads a body line by line in Python): same
    headers, payload and defects, LF or CRLF; any other message is left to the stdlib."""
    from email import message_from_bytes
    from email.policy import compat32

    from qualibench.mail.parse import _single_part

    read = 0
    for path in sorted(MAIL_FIXTURES.glob("*.eml")):
        for raw in (path.read_bytes(), path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")):
            fast = _single_part(raw)
            if fast is not None:
                assert _model(fast) == _model(message_from_bytes(raw, policy=compat32)), path.name
                read += 1
    assert read > 50
    folded = b"From: a@b.fr\nSubject: un\n deux\n\tfin\nX-Note:  caf\xc3\xa9\n\ncorps \xe9\n"
    assert _model(_single_part(folded)) == _model(message_from_bytes(folded, policy=compat32))
    assert _single_part(b"Subject: x\n\n").get_payload() == ""
    for odd in [b"Subject: x\nno blank line before this body\n", b" first line folded\nSubject: x\n\nb",
                b"From someone@example.com Mon Jan  1\nSubject: x\n\nb", b"Subject: x\rTo: y\n\nb",
                b":no name\n\nb", b"Subject: no end", b"Content-Type: multipart/mixed; boundary=b\n\n--b\n",
                b"Content-Type: message/rfc822\n\nSubject: inner\n\nb"]:
        assert _single_part(odd) is None, odd


def test_storable_replaces_only_nul_and_lone_surrogates_whatever_the_text():
    from qualibench.mail.bounds import storable

    for kept in ["", "plain", "Référence : 12 – merci ✓", "emoji 👋 ok"]:
        assert storable(kept) is kept
    assert storable("caf\udce9 à \x00 fin") == "caf\ufffd à \ufffd fin"
    assert storable("é\udc80") == "é\ufffd" and storable("a\x00") == "a\ufffd"


def test_html_text_runs_of_spaces_and_line_breaks_fold_to_one_space():
    from qualibench.mail.htmltext import html_to_text

    assert html_to_text("<p>un  deux\n trois\tquatre</p><p>cinq six</p>") == "un deux trois quatre\n\ncinq six"
    assert html_to_text("<p>Bonjour,<br>  votre <b>commande</b>  est partie</p>") == (
        "Bonjour,\nvotre commande est partie")


def test_the_date_and_charset_fast_paths_read_as_the_stdlib_does():
    """parse._canonical_date and parse._charset_param stand in for parsedate_to_datetime and
    get_param("charset") on the shapes nearly all mail has; on every other shape they step
    aside (None / the stdlib's own answer), so a value is never read two ways."""
    from email.message import Message
    from email.policy import compat32
    from email.utils import parsedate_to_datetime

    from qualibench.mail.parse import _canonical_date, _charset_param, _parse_date

    def stdlib(value: str) -> object:
        try:
            parsed = parsedate_to_datetime(value)
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except (TypeError, ValueError, IndexError, OverflowError):
            return "refused"

    fast = 0
    for day in ("", "Sun, ", "Mon ", "sun, "):
        for date in ("6 Dec 2026", "06 Dec 2026", "31 Feb 2026", "06 dec 2026", "06 Dec 26", "06 Dec 0999"):
            for time in ("00:35:00", "23:59:60", "24:00:00", "9:05:00", "10:02"):
                for zone in ("+0000", "-0000", "+0130", "-0930", "+0175", "+2400", "-2359", "GMT", "+01:00"):
                    value = f"{day}{date} {time} {zone}"
                    got = _canonical_date(value)
                    if got is not None:
                        fast += 1
                        assert got == stdlib(value) and got.tzinfo is UTC, value
                    defects: list[str] = []
                    read = _parse_date(value, defects)
                    assert (read if read is not None else "refused") == stdlib(value), value
    assert fast >= 20  # (the canonical ones the stdlib accepts)
    for value in ["text/plain; charset=utf-8", 'text/html;charset="ISO-8859-1"', "TEXT/PLAIN; CHARSET=UTF-8 ",
                  'text/plain; charset="utf-8";', "text/plain; charset = utf-8", "text/plain; charset=<x>",
                  "text/plain; charset=utf-8; format=flowed", "text/plain; charset*=utf-8''x",
                  'text/plain; charset="ut\\"f"', "; charset=x", 'text/plain; charset=""', "text/plain"]:
        part = Message(policy=compat32)
        part.set_raw("Content-Type", value)
        assert _charset_param(part) == part.get_param("charset"), value


def test_a_prepared_message_crosses_a_process_boundary_whole():
    """What a parser worker sends back (prepare.Prepared, pickled; the date as its numbers)
    is rebuilt field for field: the parsed message, its UTC date, the texts and both readings."""
    import pickle
    from dataclasses import asdict
    from datetime import timedelta, timezone

    from qualibench.mail.prepare import prepare

    seen = 0
    for path in sorted(MAIL_FIXTURES.glob("*.eml"))[:20]:
        try:
            got = prepare(path.read_bytes())
        except UnparseableMessage:
            continue
        for date in (got.msg.date, None, datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))):
            got.msg.date = date
            back = pickle.loads(pickle.dumps(got, pickle.HIGHEST_PROTOCOL))
            assert asdict(back.msg) == asdict(got.msg) and repr(back.msg.date) == repr(got.msg.date)
            assert (back.text, back.name_block, back.ticket_ref) == (got.text, got.name_block, got.ticket_ref)
            assert vars(back.at_once) == vars(got.at_once)
            assert (back.later and vars(back.later)) == (got.later and vars(got.later))
        seen += 1
    assert seen > 10
