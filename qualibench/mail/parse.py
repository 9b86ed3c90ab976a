"""Turn raw e-mail bytes into a ParsedMessage, tolerating the mail real helpdesks send.

The stdlib parser with the compat32 policy is used because it never raises on malformed
headers (policy.default parses address headers lazily and can raise on access); header
decoding (RFC 2047, raw 8-bit) and charset guessing are done here, leniently.
"""

from __future__ import annotations

import binascii
import functools
import mmap
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime

from qualibench.errors import QualibenchError
from qualibench.mail.bounds import (
    MAX_PARSE_BYTES,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    BudgetExceeded,
    cpu_deadline,
    cut_text,
    storable,
)
from qualibench.mail.charsets import (  # re-exported: callers import them from here too
    decode_bytes,
    decode_header_value,
    lookup_charset,
    raw_header_text,
)
from qualibench.mail.htmltext import html_to_text
from qualibench.mail.quotes import split_reply

__all__ = [
    "ParsedMessage",
    "UnparseableMessage",
    "decode_bytes",
    "decode_header_value",
    "lookup_charset",
    "parse_message",
]


class UnparseableMessage(QualibenchError):
    """Nothing usable (no header, no readable text) could be read from the raw bytes."""


@dataclass
class ParsedMessage:
    """What a raw e-mail says, decoded: addresses lowercased, text as str, dates aware UTC."""

    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_address: str = ""
    from_name: str = ""
    reply_to: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    x_original_to: list[str] = field(default_factory=list)
    subject: str = ""
    date: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    reply_text: str = ""
    signature: str = ""
    quoted: str = ""
    html_only: bool = False
    charset: str = ""
    attachments: list[tuple[str, str, int]] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    # Beyond the list: what bounce classification and bounce matching need.
    content_type: str = ""
    delivery_status: list[dict[str, str]] = field(default_factory=list)
    returned_message_id: str = ""  # Message-ID of our message when a bounce returns it
    # What the size bounds cut (bounds.py): the text is then partial, the raw still whole.
    notes: list[str] = field(default_factory=list)

    def recipients(self) -> list[str]:
        """Give back every address the message was delivered to, for reply-alias matching."""
        seen: dict[str, None] = {}
        for addr in self.to + self.cc + self.delivered_to + self.x_original_to:
            seen.setdefault(addr, None)
        return list(seen)


_MSGID = re.compile(r"<[^<>\s]+>")


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """Give back (display name, lowercased address) pairs from raw address header values."""
    if not values:
        return []
    return list(_address_pairs(tuple(str(v) for v in values)))


# A collect reads the same few From and To values thousands of times (one brand address, one
# alias per request): the stdlib's address parser is pure Python, so its answers are kept.
@functools.lru_cache(maxsize=4096)
def _address_pairs(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    pairs = []
    # Split first, decode after: an encoded name may hide a comma ("=?utf-8?q?Durand=2C_Marie?=").
    unfolded = [re.sub(r"\r?\n[ \t]+", " ", raw_header_text(v)) for v in values]
    for name, addr in getaddresses(unfolded):
        addr = addr.strip().strip("<>").lower()
        if "@" in addr and " " not in addr:
            pairs.append((decode_header_value(name).strip(), addr))
    return tuple(pairs)


def _message_ids(value: str) -> list[str]:
    found = _MSGID.findall(value)
    if not found and value.strip() and " " not in value.strip():
        found = [value.strip()]
    return found


# The Date header as nearly every client writes it (RFC 5322 3.3, a numeric zone): read here,
# with the stdlib's arithmetic, where parsedate_to_datetime's pure-Python tokenizer takes ten
# times as long. Anything else (names of zones, two-digit years, odd spacing) goes to the stdlib.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CANONICAL_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2}) (" + "|".join(_MONTHS) + r") "
    r"([1-9][0-9]{3}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})")


def _canonical_date(value: str) -> datetime | None:
    """Give back what _parse_date gives for a canonical Date value (None: not one, or one the
    stdlib would refuse: it is left to the stdlib, which says why)."""
    found = _CANONICAL_DATE.fullmatch(value)
    if found is None:
        return None
    day, month, year, hour, minute, second, sign, zone_h, zone_m = found.groups()
    offset = int(zone_h) * 3600 + int(zone_m) * 60  # (as email._parseaddr counts "+0175")
    try:
        # "-0000" is a UTC time whose zone is unknown: the stdlib gives it naive, read as UTC.
        zone = UTC if offset == 0 else timezone(timedelta(seconds=-offset if sign == "-" else offset))
        parsed = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute),
                          int(second), tzinfo=zone)
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _parse_date(value: str, defects: list[str]) -> datetime | None:
    if not value:
        defects.append("missing Date header")
        return None
    fast = _canonical_date(value)
    if fast is not None:
        return fast
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append(f"unreadable Date header {value[:60]!r}")
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        # RFC 5322 "-0000": the offset is unknown; UTC is the documented reading.
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.append(f"Date header out of range {value[:60]!r}")
        return None


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError) as exc:  # broken transfer encodings
        defects.append(f"undecodable part body: {exc}")
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape")
    return b""


def _is_attachment(part: Message, ctype: str) -> bool:
    """(`ctype`: the part's get_content_type(), read once by the caller)"""
    disposition = str(part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment":
        return True
    return ctype not in ("text/plain", "text/html")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except (ValueError, LookupError, TypeError):
        name = ""
    if isinstance(name, tuple):  # an undecoded RFC 2231 triple
        name = name[2]
    return decode_header_value(str(name))


@dataclass
class _Walk:
    plain: list[tuple[str, str]] = field(default_factory=list)  # (text, charset)
    html: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[tuple[str, str, int]] = field(default_factory=list)
    delivery_status: list[dict[str, str]] = field(default_factory=list)
    returned_message_id: str = ""
    elided: list[int] = field(default_factory=list)  # sizes of attachments not parsed
    leaves: int = 0  # MIME leaves read so far (MAX_PARTS)


# A Content-Type with one parameter, a plain charset ("text/plain; charset=utf-8", quoted or
# not): its value is what get_param("charset") gives, without the stdlib's parameter parser
# (pure Python, RFC 2231 continuations...). Any other shape is left to get_param.
_PLAIN_CHARSET = re.compile(r'[^;"\\]*;[ \t]*charset=(?:"([\w.:-]+)"|([\w.:-]+))[ \t]*',
                            re.ASCII | re.IGNORECASE)


def _charset_param(part: Message) -> object:
    value = part.get("content-type")
    if isinstance(value, str):
        found = _PLAIN_CHARSET.fullmatch(value)
        if found is not None:
            return found.group(1) or found.group(2)
    return part.get_param("charset")


def _read_part_text(part: Message, defects: list[str], ctype: str) -> tuple[str, str]:
    data = _payload_bytes(part, defects)
    param = _charset_param(part)
    if isinstance(param, str) and param.isascii():
        declared: str | None = param.lower() or None  # what get_content_charset() gives it
    else:  # (an RFC 2231 or non-ASCII value: the stdlib's reading; each parses the header again)
        declared = part.get_content_charset() if param else None
    if ctype == "text/html" and not declared:
        meta = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", data[:4096], re.IGNORECASE)
        if meta:
            declared = meta.group(1).decode("ascii", "replace")
    text, used, defect = decode_bytes(data, declared)
    if defect:
        defects.append(defect)
    return text, used


def _delivery_fields(part: Message) -> list[dict[str, str]]:
    blocks = part.get_payload()
    fields_list: list[dict[str, str]] = []
    if isinstance(blocks, list):
        for block in blocks:
            if isinstance(block, Message):
                fields_list.append({k.lower(): decode_header_value(v) for k, v in block.items()})
    elif isinstance(blocks, str):
        for chunk in re.split(r"\r?\n\s*\r?\n", blocks):
            entry = {}
            for line in chunk.splitlines():
                if ":" in line and not line[:1].isspace():
                    key, _, val = line.partition(":")
                    entry[key.strip().lower()] = val.strip()
            if entry:
                fields_list.append(entry)
    return fields_list


def _recover_multipart(part: Message, acc: _Walk, defects: list[str], depth: int) -> None:
    """Read a multipart whose boundary is missing or wrong, guessing it from "--" lines."""
    data = _payload_bytes(part, defects)
    found = re.search(rb"^--([^\s-][^\r\n]{0,69}?)\r?\n(?=[\w-]+:)", data, re.MULTILINE)
    if found:
        boundary = found.group(1).strip()
        if boundary.endswith(b"--"):
            boundary = boundary[:-2]
        defects.append("multipart boundary missing or wrong; recovered from the body")
        head = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        rebuilt = message_from_bytes(head + data, policy=compat32)
        if rebuilt.is_multipart():
            _walk(rebuilt, acc, defects, depth + 1)
            return
    defects.append("multipart without readable parts; body read as text")
    text, used, defect = decode_bytes(data, part.get_content_charset())
    if defect:
        defects.append(defect)
    acc.plain.append((text, used))


def _walk(part: Message, acc: _Walk, defects: list[str], depth: int = 0, ctype: str = "") -> None:
    ctype = ctype or part.get_content_type()  # (`ctype`: read by the caller already)
    if depth > 30:
        defects.append("MIME nesting deeper than 30 levels ignored")
        return
    if ctype == "message/delivery-status":
        acc.delivery_status.extend(_delivery_fields(part))
        return
    if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
        _returned_message(part, acc, defects)
        return
    if part.is_multipart():
        children = part.get_payload()
        if isinstance(children, list):
            for child in children:
                if isinstance(child, Message):
                    _walk(child, acc, defects, depth + 1)
        return
    if ctype.split("/")[0] == "multipart":  # (get_content_maintype(), read from ctype)
        _recover_multipart(part, acc, defects, depth)
        return
    acc.leaves += 1
    if acc.leaves > MAX_PARTS:
        if acc.leaves == MAX_PARTS + 1:
            defects.append(f"more than {MAX_PARTS} MIME parts: the rest are not read")
        return
    if _is_attachment(part, ctype):
        media = ctype
        name = _filename(part)
        if name.lower() == "winmail.dat" and media == "application/octet-stream":
            media = "application/ms-tnef"
        acc.attachments.append((name, media, _attachment_size(part, acc, defects)))
        return
    text, used = _read_part_text(part, defects, ctype)
    (acc.html if ctype == "text/html" else acc.plain).append((text, used))


def _attachment_size(part: Message, acc: _Walk, defects: list[str]) -> int:
    body = part.get_payload()
    if isinstance(body, str) and body.startswith(_ELIDED):
        index, _, tail = body[len(_ELIDED) :].partition("\n")
        index = index.strip()
        if index.isdigit() and int(index) < len(acc.elided):
            # The last base64 line is often too short to be part of the elided run.
            try:
                rest = len(binascii.a2b_base64(tail.encode("ascii", "ignore")))
            except binascii.Error:
                rest = 0
            return acc.elided[int(index)] + rest
    return len(_payload_bytes(part, defects))


def _returned_message(part: Message, acc: _Walk, defects: list[str]) -> None:
    """Note the Message-ID of a message a bounce returns, and list it as an attachment."""
    inner = part.get_payload()
    size = 0
    if isinstance(inner, list) and inner and isinstance(inner[0], Message):
        mid = str(inner[0].get("Message-ID", "") or "")
        try:
            size = len(inner[0].as_bytes())
        except (ValueError, TypeError, LookupError, UnicodeError):
            size = 0
    else:
        data = _payload_bytes(part, defects)
        size = len(data)
        found = re.search(rb"^Message-ID:\s*(<[^>\r\n]+>)", data, re.IGNORECASE | re.MULTILINE)
        mid = found.group(1).decode("ascii", "replace") if found else ""
    if mid and not acc.returned_message_id:
        acc.returned_message_id = decode_header_value(mid).strip()
    if part.get_content_type() == "message/rfc822":
        acc.attachments.append((_filename(part) or "message.eml", "message/rfc822", size))


# Runs of base64-shaped lines. Anchored at line starts and possessive, so one scan is linear
# whatever the input (unanchored, a 6 MB line of letters took minutes of backtracking).
_BASE64_RUN = re.compile(rb"(?:^[A-Za-z0-9+/=]{40,100}\r?\n)++", re.MULTILINE)
# Runs of at least this many lines (~600 kB) are attachments whose content we never read.
_LARGE_RUN_LINES = 8192
_ELIDED = "QUALIBENCH-ELIDED-BASE64-"


def _count(buf: bytes | mmap.mmap, byte: bytes, start: int, end: int) -> int:
    """Count `byte` in buf[start:end] a megabyte at a time (an mmap has no count())."""
    step = 1 << 20
    return sum(buf[i : min(i + step, end)].count(byte) for i in range(start, end, step))


def _elide_large_attachments(raw: bytes | mmap.mmap) -> tuple[bytes | mmap.mmap, list[int]]:
    """Give back raw with big base64 attachment bodies replaced by markers, and their sizes.

    The stdlib parser keeps several copies of every part; a 50 MB attachment would cost
    over half a gigabyte for content that only needs to be listed with its size.
    """
    if len(raw) < 1_000_000:
        return raw, []
    pieces: list[bytes] = []
    sizes: list[int] = []
    last = 0
    for found in _BASE64_RUN.finditer(raw):
        start, end = found.span()
        newlines = _count(raw, b"\n", start, end)
        if newlines < _LARGE_RUN_LINES:
            continue
        head = bytes(raw[max(0, start - 4096) : start]).lower()
        ctype_at = head.rfind(b"content-type:")
        ctype = head[ctype_at : ctype_at + 60] if ctype_at >= 0 else b""
        if ctype_at < 0 or b"text/" in ctype or b"message/" in ctype or b"base64" not in head:
            continue
        chars = (end - start) - newlines - _count(raw, b"\r", start, end)
        padding = bytes(raw[max(start, end - 4) : end]).rstrip()[-2:].count(b"=")
        sizes.append(chars * 3 // 4 - padding)
        pieces += [raw[last:start], f"{_ELIDED}{len(sizes) - 1}\r\n".encode()]
        last = end
    if not sizes:
        return raw, []
    pieces.append(raw[last:])
    return b"".join(pieces), sizes


def _bounded(raw: bytes | mmap.mmap, notes: list[str]) -> bytes:
    """Give back at most MAX_PARSE_BYTES of raw, cut at a line end, noting any cut."""
    if len(raw) <= MAX_PARSE_BYTES:
        return bytes(raw)
    cut = raw.rfind(b"\n", 0, MAX_PARSE_BYTES) + 1 or MAX_PARSE_BYTES
    notes.append(f"message of {len(raw) / 1e6:.1f} MB: only its first {cut / 1e6:.1f} MB were "
                 "parsed; the raw message is kept whole")
    return bytes(raw[:cut])


def _header_values(msg: Message) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Give back the headers by lowercased name (the first of each, decoded) and every header's
    raw values by lowercased name, for the six address headers (compat32 would wrap 8-bit ones
    in Header objects): one pass over the headers for both."""
    headers: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = str(name).strip().lower()
        values.setdefault(key, []).append(str(value))
        if key and key not in headers:
            headers[key] = decode_header_value(value)
    return headers, values


def _usable(msg: Message, headers: dict[str, str], text: str) -> bool:
    known = {"from", "to", "subject", "date", "message-id", "received", "content-type"}
    if known & headers.keys():
        return True
    if not text.strip():
        return False
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\r\n\t")
    return printable / len(text) > 0.9


def parse_message(raw: bytes | mmap.mmap) -> ParsedMessage:
    """Give back the ParsedMessage of raw RFC 5322 bytes; raise UnparseableMessage if unusable.

    Bounded (bounds.py): past its size limits the text is cut with a note in `notes`, and a
    message that still takes more than the CPU budget is refused as unparseable.
    """
    try:
        with cpu_deadline():
            return _parse(raw)
    except BudgetExceeded as exc:
        raise UnparseableMessage(
            f"{exc} (a message built to stall the parser?)",
            "the raw bytes are kept as evidence; look at them with `qualibench inbox`",
        ) from None
    except RecursionError:
        raise UnparseableMessage(
            "the message nests deeper than the parser follows",
            "the raw bytes are kept as evidence; look at them with `qualibench inbox`",
        ) from None


# The header block of a message the stdlib's feed parser reads as plain fields: each line a
# field ("Name:" then anything, the name printable ASCII without ":") or the continuation of
# the one above (a space or a tab first), every line ending in LF or CRLF.
_PLAIN_HEADERS = re.compile(r"(?:[\041-\071\073-\176]+:[^\n]*\n(?:[ \t][^\n]*\n)*)*")
# One field: its name, and its value as compat32's header_source_parse gives it (the rest of the
# first line without its leading blanks, then the continuation lines; line ends stripped after).
_FIELD = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\n]*\n(?:[ \t][^\n]*\n)*)")
# Where the header block ends: the first empty line (LF or CRLF).
_BLANK_LINE = re.compile(r"\n\r?\n")


def _single_part(data: bytes) -> Message | None:
    """Give back the Message that message_from_bytes(data, policy=compat32) builds, for a
    single-part message with well-formed headers, or None for any other (then the stdlib parser
    reads it). Speed only: the stdlib's feed parser reads the body line by line in Python,
    where a single part's body is the rest of the text as it stands; the header block is read
    by two patterns instead of line by line."""
    text = data.decode("ascii", "surrogateescape")  # (as BytesParser does)
    if text.startswith(("\n", "\r\n")):
        head, pos = "", text.index("\n") + 1  # no header at all
    else:
        blank = _BLANK_LINE.search(text)
        if blank is None:
            return None  # no blank line after the headers
        head, pos = text[:blank.start() + 1], blank.end()
    if "\r" in head and head.count("\r") != head.count("\r\n"):
        return None  # a lone carriage return ends a line for the stdlib: left to it
    if not _PLAIN_HEADERS.fullmatch(head):
        # A defect (no blank line, an envelope "From " line, a first line folded, a line that
        # is no field): the stdlib says which.
        return None
    msg = Message(policy=compat32)
    for name, value in _FIELD.findall(head):
        msg.set_raw(name, value.rstrip("\r\n"))
    if msg.get_content_maintype() in ("multipart", "message"):
        return None
    msg.set_payload(text[pos:])
    return msg


def _parse(raw: bytes | mmap.mmap) -> ParsedMessage:
    if not raw or not raw[:MAX_PARSE_BYTES].strip():
        raise UnparseableMessage(
            "empty message", "the raw bytes are kept as evidence; nothing to parse"
        )
    notes: list[str] = []
    elided_raw, elided = _elide_large_attachments(raw)
    data = _bounded(elided_raw, notes)
    del elided_raw
    msg = _single_part(data) or message_from_bytes(data, policy=compat32)
    del data
    defects = [type(d).__name__ for d in msg.defects]
    decoded, raw_values = _header_values(msg)
    headers = {k: storable(v) for k, v in decoded.items()}
    acc = _Walk(elided=elided)
    content_type = msg.get_content_type()
    _walk(msg, acc, defects, ctype=content_type)
    for part in msg.walk():
        if part is not msg:
            defects.extend(type(d).__name__ for d in getattr(part, "defects", []))

    html_only = not acc.plain and bool(acc.html)
    if acc.plain:
        text = "\n\n".join(t for t, _ in acc.plain if t.strip()) or acc.plain[0][0]
        charset = acc.plain[0][1]
    elif acc.html:
        text = "\n\n".join(html_to_text(t, notes) for t, _ in acc.html)
        charset = acc.html[0][1]
    else:
        text, charset = "", ""
    text = cut_text(text, MAX_TEXT_CHARS, "text", notes)
    text = storable(text.replace("\r\n", "\n").replace("\r", "\n"))

    if not _usable(msg, headers, text):
        raise UnparseableMessage(
            "no header and no readable text in the message",
            "the raw bytes are kept as evidence; look at them with `qualibench inbox`",
        )

    def addresses(name: str) -> list[str]:
        return [storable(a) for _, a in _addresses(raw_values.get(name.lower(), []))]

    from_pairs = _addresses(raw_values.get("from", []))
    reply, signature, quoted = split_reply(text)
    return ParsedMessage(
        message_id=(_message_ids(headers.get("message-id", "")) or [""])[0],
        in_reply_to=_message_ids(headers.get("in-reply-to", "")),
        references=_message_ids(headers.get("references", "")),
        from_address=storable(from_pairs[0][1]) if from_pairs else "",
        from_name=storable(from_pairs[0][0]) if from_pairs else "",
        reply_to=addresses("Reply-To"),
        to=addresses("To"),
        cc=addresses("Cc"),
        delivered_to=addresses("Delivered-To"),
        x_original_to=addresses("X-Original-To"),
        subject=headers.get("subject", ""),
        date=_parse_date(headers.get("date", ""), defects),
        headers=headers,
        text=text,
        reply_text=reply,
        signature=signature,
        quoted=quoted,
        html_only=html_only,
        charset=charset,
        attachments=[(storable(n), storable(m), size) for n, m, size in acc.attachments],
        defects=[storable(d) for d in defects],
        content_type=content_type,
        delivery_status=[{storable(k): storable(v) for k, v in d.items()}
                         for d in acc.delivery_status],
        returned_message_id=storable(acc.returned_message_id),
        notes=notes,
    )
