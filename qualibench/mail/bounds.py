"""How much of one message the parser reads, and for how long: a brand's mail cannot stall a collect.

Every algorithm of the parser is linear, but linear in 60 MB is still seconds and gigabytes
through the stdlib parser and lxml. So the work per message is bounded by size first (a
reply a shopper can score is a few kilobytes: past these limits the rest is cut from the
text, with a note, and the raw bytes stay whole in the evidence store), then by CPU time as
a last guard against a pattern nobody foresaw.
"""

from __future__ import annotations

import _signal
import re
import signal
import threading

# Raw bytes handed to the MIME parser, after large base64 attachments are elided.
MAX_PARSE_BYTES = 4_000_000
# HTML markup handed to lxml, after data: URIs are dropped.
MAX_HTML_CHARS = 1_000_000
# Text kept for matching, classification, reply extraction and scoring.
MAX_TEXT_CHARS = 100_000
# Lines a quote/signature pattern is tried on: no attribution or header line is longer.
MAX_PATTERN_LINE = 400
# MIME leaves read for text and attachments (a 10,000-part message lists the first ones).
MAX_PARTS = 500
# Processor time one message may take to parse (CPU, not wall: a loaded machine is no excuse).
CPU_SECONDS = 10.0


class BudgetExceeded(Exception):
    """Parsing one message took more processor time than CPU_SECONDS."""


def cpu_deadline(seconds: float | None = None) -> _Deadline:
    """Raise BudgetExceeded inside the `with` block once it has used `seconds` of CPU time.

    A profiling timer (SIGPROF) interrupts pure-Python loops; it only works in the main
    thread, elsewhere the block runs unguarded (the size limits still hold).
    """
    return _Deadline(CPU_SECONDS if seconds is None else seconds)


class _Deadline:
    """cpu_deadline's context manager (a class: a generator-based one costs a few
    microseconds at each message, twice, of a collect)."""

    __slots__ = ("armed", "previous", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.armed = False
        self.previous: object = None

    def __enter__(self) -> None:
        global _guarded
        # Inside an outer deadline (a whole message prepared: parse, then classify) the outer
        # one holds: a second timer would reset it.
        if _guarded or self.seconds <= 0 or threading.current_thread() is not threading.main_thread():
            return
        seconds = self.seconds

        def expired(_signum: int, _frame: object) -> None:
            raise BudgetExceeded(f"parsing stopped after {seconds:g} s of processor time")

        # (_signal's own function: signal.signal converts both handlers to enums, a cost at
        # every message of a collect)
        self.previous = _signal.signal(signal.SIGPROF, expired)
        signal.setitimer(signal.ITIMER_PROF, seconds)
        _guarded = self.armed = True

    def __exit__(self, *exc: object) -> None:
        global _guarded
        if self.armed:
            self.armed = False
            signal.setitimer(signal.ITIMER_PROF, 0)
            _signal.signal(signal.SIGPROF, self.previous)  # type: ignore[arg-type]
            _guarded = False


_guarded = False  # a cpu_deadline is running in this (main) thread


# NUL is refused by PostgreSQL in text and JSON; lone surrogates (undecodable bytes kept by
# surrogateescape) cannot be encoded to UTF-8 by any driver.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> str:
    """Give back `text` with what no database can store (NUL, lone surrogates) made U+FFFD."""
    if not text or (text.isascii() and "\x00" not in text):  # (no surrogate in ASCII text)
        return text
    if "\x00" not in text:
        try:
            text.encode("utf-8")  # (fails on a lone surrogate only; far cheaper than the search)
        except UnicodeEncodeError:
            pass
        else:
            return text
    return _UNSTORABLE.sub("\ufffd", text)


def cut_text(text: str, limit: int, what: str, notes: list[str]) -> str:
    """Give back `text` cut to `limit` characters, noting the cut in `notes` (raw bytes are kept)."""
    if len(text) <= limit:
        return text
    notes.append(f"{what} truncated to its first {limit:,} characters (of {len(text):,}); "
                 "the raw message is kept whole")
    return text[:limit]
