"""The wire bytes of a probe's message, written directly: the same bytes as `build_message`.

`build_message` builds an `EmailMessage` (every header parsed into a structured object, then
folded again by the generator): about 2 ms a message, most of a send's CPU on loopback. Here
the bytes are written the way that generator writes them: a header whose value is plain (ASCII
words, no quoting or encoding needed, short enough not to fold) is written as it is, any other
goes through the email package's own folding (cached per value: a brand's address, a
scenario's subject come back); the body is quoted-printable by the same `quoprimime` call. A
test holds the two paths byte for byte equal over plain, accented, long and odd inputs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from email import quoprimime
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from .smtp import Sender, _address

MAX_LINE = SMTP_POLICY.max_line_length  # 78
_PLAIN_WORDS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MSG_ID = re.compile(r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+>")
_TEXT = re.compile(r"[!-~]+(?: [!-~]+)*")  # printable ASCII words, single spaces
_TAIL = (b'Content-Type: text/plain; charset="utf-8"\r\n'
         b"Content-Transfer-Encoding: quoted-printable\r\nMIME-Version: 1.0\r\n\r\n")


@dataclass(frozen=True)
class WireMessage:
    """A message ready for SMTP: its bytes and its envelope."""

    raw: bytes
    message_id: str
    mail_from: str
    rcpts: list[str]


@functools.lru_cache(maxsize=4096)
def _folded(name: str, value: str) -> bytes:
    """Return the header as the email package folds it (parsed, encoded, wrapped)."""
    header = SMTP_POLICY.header_factory(name, value)
    return header.fold(policy=SMTP_POLICY).encode("ascii")


def _line(name: str, value: str) -> bytes | None:
    line = f"{name}: {value}\r\n"
    return line.encode("ascii") if len(line) - 2 <= MAX_LINE else None


def _is_addr(addr: str) -> bool:
    local, at, domain = addr.rpartition("@")
    return bool(at) and bool(_DOT_ATOM.fullmatch(local)) and bool(_DOT_ATOM.fullmatch(domain))


def _mailbox_header(name: str, display: str, addr: str) -> bytes:
    if _is_addr(addr) and (not display or _PLAIN_WORDS.fullmatch(display)):
        line = _line(name, f"{display} <{addr}>" if display else addr)
        if line is not None:
            return line
    return _folded(name, str(_address(display, addr)))


@functools.lru_cache(maxsize=1024)
def _recipients(to: str) -> tuple[bytes, tuple[str, ...]]:
    header = SMTP_POLICY.header_factory("To", to)
    return (header.fold(policy=SMTP_POLICY).encode("ascii"),
            tuple(a.addr_spec for a in header.addresses))


def _text_header(name: str, value: str, pattern: re.Pattern[str]) -> bytes:
    if pattern.fullmatch(value) and "=?" not in value:
        line = _line(name, value)
        if line is not None:
            return line
    return _folded(name, value)


def _body(text: str) -> bytes:
    # What set_content(cte="quoted-printable") stores, then the generator's CRLF line ends.
    lines = text.encode("utf-8").splitlines()
    encoded = quoprimime.body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), MAX_LINE)
    return "\r\n".join(encoded.split("\n")).encode("ascii")


def wire_message(
    *,
    sender: Sender,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    timezone: str = "UTC",
    in_reply_to: str | None = None,
) -> WireMessage:
    """Return the bytes `message_bytes(build_message(...))` gives for the same arguments."""
    try:
        local = date.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError):
        local = date
    to_header, rcpts = _recipients(to)
    parts = [_text_header("Message-ID", message_id, _MSG_ID),
             _text_header("Date", format_datetime(local), _TEXT),
             _mailbox_header("From", sender.display_name, sender.address)]
    if sender.reply_to:
        parts.append(_mailbox_header("Reply-To", sender.display_name, sender.reply_to))
    parts += [to_header, _text_header("Subject", subject, _TEXT)]
    if in_reply_to:
        parts += [_text_header("In-Reply-To", in_reply_to, _MSG_ID),
                  _text_header("References", in_reply_to, _MSG_ID)]
    text = body.replace("\r\n", "\n").rstrip("\n") + "\n"
    raw = b"".join(parts) + _TAIL + _body(text)
    mail_from = sender.address if _is_addr(sender.address) else SMTP_POLICY.header_factory(
        "From", str(_address(sender.display_name, sender.address))).addresses[0].addr_spec
    if not _MSG_ID.fullmatch(message_id):
        message_id = str(SMTP_POLICY.header_factory("Message-ID", message_id))
    return WireMessage(raw, message_id, mail_from, list(rcpts))
