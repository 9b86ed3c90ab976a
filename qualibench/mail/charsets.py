"""Decode what mail declares about its text: MIME charsets (often wrong) and RFC 2047 headers."""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[QqBb]\?)")
_CHARSET_ALIASES = {
    # WHATWG: labels browsers and mailers treat as windows-1252 in practice.
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def lookup_charset(name: str | None) -> str:
    """Give back a Python codec name for a declared MIME charset, or "" when unknown."""
    if not name:
        return ""
    label = name.strip().strip("\"'").lower()
    if label in _CHARSET_ALIASES:
        return _CHARSET_ALIASES[label]
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):
        return ""


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str, str]:
    """Give back (text, charset used, defect or "") for bytes with a possibly wrong charset."""
    codec = lookup_charset(declared)
    if codec:
        try:
            return data.decode(codec), codec, ""
        except (UnicodeDecodeError, LookupError):
            pass
    if not codec or codec != "utf-8":
        try:
            text = data.decode("utf-8")
            defect = f"declared charset {declared!r} but bytes are utf-8" if declared else ""
            if codec == "ascii" or not declared:
                defect = ""
            return text, "utf-8", defect
        except UnicodeDecodeError:
            pass
    if declared and not codec:
        defect = f"unknown charset {declared!r}; read as windows-1252"
    elif declared and codec != "ascii":
        defect = f"declared charset {declared!r} does not decode; read as windows-1252"
    else:
        defect = ""
    try:
        return data.decode("cp1252"), "cp1252", defect
    except UnicodeDecodeError:
        # Five bytes are undefined in cp1252; latin-1 maps every byte.
        return data.decode("latin-1"), "latin-1", defect


def raw_header_text(value: str) -> str:
    """Give back a header value with raw 8-bit bytes (surrogate-escaped) decoded."""
    if not value.isascii() and any("\udc80" <= ch <= "\udcff" for ch in value):
        data = value.encode("ascii", "surrogateescape")
        value, _, _ = decode_bytes(data, None)
    return value


def _decode_word(charset: str, encoding: str, payload: str) -> str:
    charset = charset.split("*", 1)[0]  # RFC 2231 language suffix: =?utf-8*fr?Q?...?=
    try:
        if encoding.upper() == "B":
            padded = payload + "=" * (-len(payload) % 4)
            data = base64.b64decode(padded, validate=False)
        else:
            data = quopri.decodestring(
                payload.replace("_", " ").encode("ascii", "replace"), header=True
            )
    except (binascii.Error, ValueError):
        return payload
    text, _, _ = decode_bytes(data, charset)
    return text


def decode_header_value(value: str | None) -> str:
    """Give back a header value as text: RFC 2047 words decoded, raw 8-bit tolerated, unfolded."""
    if not value:
        return ""
    value = str(value)
    if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
        return value.strip()  # nothing to decode or unfold (most headers): what the steps below give
    value = raw_header_text(value)
    value = re.sub(r"\r?\n[ \t]+", " ", value)
    value = _BETWEEN_WORDS.sub(r"\1", value)
    value = _ENCODED_WORD.sub(lambda m: _decode_word(m.group(1), m.group(2), m.group(3)), value)
    return value.replace("\r", "").replace("\n", " ").strip()
