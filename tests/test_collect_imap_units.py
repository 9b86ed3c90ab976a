"""Pure pieces of the IMAP collector: Date from raw bytes, body batches, 32-bit UID storage."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from qualibench.mail import imap


def test_date_header_is_read_from_the_header_block_only_and_kept_aware():
    raw = (b"From: a@b.test\r\nDate: Fri, 04 Dec 2026\r\n 10:00:00 +0100\r\nSubject: x\r\n\r\n"
           b"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n")
    assert imap.date_header(raw) == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert imap.date_header(b"Subject: x\r\n\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n") is None
    assert imap.date_header(b"Date: not a date\n\nbody") is None


_DAYS = st.sampled_from(["", "Tue, ", "tue,"])
_MONTHS = st.sampled_from(["Jan", "feb", "MAR", "Dec", "Foo", "June"])
_ZONES = st.sampled_from(["+0000", "-0000", "+0100", "-0530", "+2359", "+9999", "+0099", "GMT", "CET"])


@settings(max_examples=60)  # (CI time: the shapes are few, each example is cheap)
@given(_DAYS, st.integers(0, 32), _MONTHS, st.sampled_from([99, 1999, 2026, 10000]),
       st.integers(0, 25), st.integers(0, 61), st.sampled_from(["", ":00", ":59", ":60"]), _ZONES,
       st.sampled_from([" ", "-"]))
def test_dates_read_by_the_quick_path_are_the_email_packages(day, d, month, year, hh, mm, ss, zone, sep):
    """The Date header and INTERNALDATE quick reading gives what email.utils / imapclient give
    (None when they refuse), whatever the shape; other shapes still go to them."""
    from email.utils import parsedate_to_datetime

    from imapclient.datetime_util import parse_to_datetime

    text = f"{day}{d}{sep}{month}{sep}{year} {hh:02d}:{mm:02d}{ss} {zone}"
    try:
        expected = imap._aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        expected = None
    got = imap.date_header(f"Date: {text}\r\n\r\n".encode())
    assert got == expected and (got is None or got.utcoffset().total_seconds() == 0)
    if sep == "-" and not day and ss:  # an INTERNALDATE
        try:
            internal = imap._aware(parse_to_datetime(text.encode(), normalise=False))
        except ValueError:
            internal = None
        plain = imap._PLAIN_DATE.fullmatch(text)
        if plain is not None:
            try:
                quick = imap._plain_datetime(plain)
            except ValueError:
                quick = None
            assert quick == internal


def test_batches_respect_bytes_and_count_and_a_huge_message_goes_alone():
    sizes = {1: 10, 2: 60 * 1024 * 1024, 3: 10, 4: 10}
    assert list(imap._batches([1, 2, 3, 4], sizes)) == [[1], [2], [3, 4]]
    many = list(range(1, imap.BATCH_MESSAGES * 2 + 2))
    batches = list(imap._batches(many, {}))
    assert [len(b) for b in batches] == [imap.BATCH_MESSAGES, imap.BATCH_MESSAGES, 1]


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_unsigned_imap_numbers_fit_a_signed_integer_column_and_come_back(value):
    stored = imap._to_column(value)
    assert -(2**31) <= stored < 2**31
    assert imap._from_column(stored) == value
