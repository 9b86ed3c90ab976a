"""parse_message over the real-world corpus, on damaged input, and on a 50 MB attachment."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
def test_50mb_attachment_is_listed_with_its_size(tmp_path):
    size = 50 * 1024 * 1024
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


_damaged = st.one_of(
    st.binary(max_size=2000),
    st.sampled_from(sorted(PARSEABLE)).flatmap(
        lambda name: st.tuples(
            st.just((MAIL_FIXTURES / name).read_bytes()),
            st.integers(min_value=0, max_value=4000),
            st.integers(min_value=0, max_value=4000),
            st.binary(max_size=64),
        ).map(lambda t: t[0][: t[1]] + t[3] + t[0][t[1] + t[2] :])
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
