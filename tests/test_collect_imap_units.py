"""Pure pieces of the IMAP collector: Date from raw bytes, body batches, 32-bit UID storage."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from qualibench.mail import imap


def test_date_header_is_read_from_the_header_block_only_and_kept_aware():
    raw = (b"From: a@b.test\r\nDate: Fri, 04 Dec 2026\r\n 10:00:00 +0100\r\nSubject: x\r\n\r\n"
           b"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n")
    assert imap.date_header(raw) == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    assert imap.date_header(b"Subject: x\r\n\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n") is None
    assert imap.date_header(b"Date: not a date\n\nbody") is None


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
