"""Split a reply's text into what the writer wrote, their signature and the quoted history.

French and English mail clients and helpdesks are covered: Gmail/Apple attributions
("Le ... a écrit :", "On ... wrote:"), Outlook header blocks ("De : / Envoyé : / Objet :",
"From: / Sent: / Subject:"), "-----Original Message-----" separators and '>' quoting.
The closing formula ("Cordialement,") stays in the reply because the scorer rates politeness;
only the name/contact block after it is the signature.
"""

from __future__ import annotations

import re

from qualibench.mail.bounds import MAX_PATTERN_LINE

# No-break spaces (U+00A0, U+202F) precede colons in French typography and in Outlook FR.
_NBSP = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\ufeff": ""})

_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"le\s.{4,200}?\sa\s+[ée]crit\s*:"
    r"|on\s.{4,200}?\swrote\s*:"
    r"|.{2,120}?\sa\s+[ée]crit\s*:"  # "Marie Durand a écrit :" (Apple Mail, Thunderbird FR)
    r"|.{2,120}?\swrote\s*:"
    r"|.{0,40}\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}.{0,80}?\s(?:a\s+[ée]crit|wrote)\s*:?"
    r")\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}|_{2,}|={2,})?\s*(?:"
    r"original\s+message|message\s+d['’]origine|forwarded\s+message|message\s+transf[ée]r[ée]"
    r"|message\s+original|reply\s+above\s+this\s+line|r[ée]pondez\s+au-dessus\s+de\s+cette\s+ligne"
    r"|begin\s+forwarded\s+message\s*:|d[ée]but\s+du\s+message\s+r[ée]exp[ée]di[ée]\s*:"
    r")\s*(?:-{2,}|_{2,}|={2,})?\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:de|from|exp[ée]diteur)\s*\*?\s*:\s*\*?\s*\S", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(?:envoy[ée]|sent|date|[àa]|to|objet|subject|cc|destinataire)\s*\*?\s*:",
    re.IGNORECASE,
)
_REPLY_MARKER = re.compile(r"^\s*##-.{5,120}-##\s*$")
_RULE = re.compile(r"^\s*(?:_{10,}|-{10,})\s*$")

_SIG_DELIMITER = re.compile(r"^(?:-- ?|—)$")
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:envoy[ée]\s+(?:de|depuis)\s+(?:mon|ma|l['’]app|outlook|yahoo)"
    r"|sent\s+(?:from|via)\s+(?:my|outlook|yahoo|mail\s+for)"
    r"|get\s+outlook\s+for|t[ée]l[ée]chargez\s+outlook"
    r"|obtenir\s+outlook\s+pour)",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:bien\s+)?(?:tr[èe]s\s+)?(?:cordialement|cordiales\s+salutations|sinc[èe]rement"
    r"|bien\s+[àa]\s+vous|bien\s+[àa]\s+toi|salutations(?:\s+distingu[ée]es)?"
    r"|sinc[èe]res\s+salutations|meilleures\s+salutations|respectueusement"
    r"|bonne\s+(?:journ[ée]e|soir[ée]e|fin\s+de\s+journ[ée]e)|belle\s+journ[ée]e"
    r"|(?:best|kind|warm|warmest)\s+(?:regards|wishes)|regards|best|sincerely|yours\s+(?:sincerely|truly|faithfully)"
    r"|many\s+thanks|thanks(?:\s+again)?|thank\s+you|cheers|all\s+the\s+best|merci(?:\s+beaucoup|\s+encore)?"
    r"|l['’][ée]quipe\s+\S.*|the\s+\S+(?:\s+\S+)?\s+team"
    r"|nous\s+vous\s+prions\s+d['’]agr[ée]er.{0,200}|veuillez\s+agr[ée]er.{0,200}"
    r"|je\s+vous\s+prie\s+d['’]agr[ée]er.{0,200})"
    r"\s*[,.!]?\s*$",
    re.IGNORECASE,
)
# "Merci." or "Thanks," may also open a sentence run; after them only a bare name block counts.
_WEAK_CLOSING = re.compile(
    r"^\s*(?:many\s+thanks|thanks(?:\s+again)?|thank\s+you|cheers|best|merci(?:\s+beaucoup|\s+encore)?"
    r"|bonne\s+(?:journ[ée]e|soir[ée]e|fin\s+de\s+journ[ée]e)|belle\s+journ[ée]e)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_CONTACT = re.compile(r"\d{2}[ .]?\d{2}|@|www\.|https?://")
# A name block after a closing: few short lines (names, roles, phone, site).
_MAX_SIG_LINES = 10
_MAX_SIG_LINE = 90


def _norm(line: str) -> str:
    return line.translate(_NBSP)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _outlook_block_at(lines: list[str], i: int) -> bool:
    """Say whether lines[i] starts a "De : / Envoyé : / Objet :" header block."""
    if len(lines[i]) > MAX_PATTERN_LINE or not _HEADER_FROM.match(lines[i]):
        return False
    others = 0
    for line in lines[i + 1 : i + 7]:
        if not line.strip():
            continue
        if len(line) <= MAX_PATTERN_LINE and _HEADER_OTHER.match(line):
            others += 1
        else:
            break
    return others >= 2


def _quote_start(lines: list[str]) -> int | None:
    """Give back the index of the first line of quoted history, or None.

    One pass, each line tried against patterns on at most MAX_PATTERN_LINE characters, so
    the cost is linear in the text whatever its shape.
    """
    # quoted_to_end[i]: every non-blank line from i on is '>'-quoted (computed once, backwards:
    # asking it anew at each quoted line made 60,000 alternating lines take minutes).
    quoted_to_end = [False] * (len(lines) + 1)
    quoted_to_end[len(lines)] = True
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        quoted_to_end[i] = quoted_to_end[i + 1] and (not line.strip() or _is_quoted(line))
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if len(line) > MAX_PATTERN_LINE:
            if _is_quoted(line) and quoted_to_end[i]:
                return i
            continue
        if _SEPARATOR.match(line):
            return i
        if _outlook_block_at(lines, i):
            # An Outlook rule ("____") right above belongs to the history too.
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            return j if j >= 0 and _RULE.match(lines[j]) else i
        if (
            _RULE.match(line)
            and i + 1 < len(lines)
            and any(_outlook_block_at(lines, k) for k in range(i + 1, min(i + 3, len(lines))))
        ):
            return i
        # Attributions may be wrapped over two or three lines by the sending client.
        for span in (1, 2, 3):
            joined = " ".join(part.strip() for part in lines[i : i + span])
            if span > 1 and not re.match(r"^\s*(?:le|on)\s", line, re.IGNORECASE):
                break  # only "Le .../On ..." attributions get wrapped by mail clients
            if len(joined) < 300 and _ATTRIBUTION.match(joined):
                return i
        if _is_quoted(line) and quoted_to_end[i]:
            return i
    return None


def _bottom_post(lines: list[str], start: int | None) -> int | None:
    """Give back where the answer starts when it is written below a '>'-quoted history."""
    if start is None or any(line.strip() for line in lines[:start]):
        return None
    seen_quote = False
    for k in range(start + 1, len(lines)):
        if _is_quoted(lines[k]):
            seen_quote = True
        elif lines[k].strip() and seen_quote:
            return k
    return None


def _name_line(line: str) -> bool:
    """Say whether a line reads like part of a name block rather than a sentence."""
    text = line.strip()
    if _CONTACT.search(text):
        return True
    return len(text.split()) <= 5 and not text.endswith((".", "!", "?", ":", ";"))


def _signature_start(lines: list[str]) -> tuple[int | None, bool]:
    """Give back (index where the signature starts, whether that line is a closing kept in reply)."""
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line.rstrip("\n")) or line.strip() in ("--", "-- "):
            return i, False
        if _MOBILE_FOOTER.match(line):
            return i, False
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    # Search the last closing formula that is followed only by a short name block.
    for i in reversed(nonblank[-(_MAX_SIG_LINES + 2) :]):
        if _CLOSING.match(lines[i]):
            after = [x for x in lines[i + 1 :] if x.strip()]
            if len(after) > _MAX_SIG_LINES or any(len(x.strip()) > _MAX_SIG_LINE for x in after):
                continue
            if _WEAK_CLOSING.match(lines[i]) and not all(_name_line(x) for x in after):
                continue
            return i + 1, True
    return None, False


def _trim(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n").rstrip()


def split_reply(text: str, language: str | None = None) -> tuple[str, str, str]:
    """Give back (reply, signature, quoted) for a message body; patterns of FR and EN always apply.

    `language` ("fr"/"en") is accepted for callers that know it; both languages' patterns are
    tried anyway since French brands often answer with English templates and vice versa.
    """
    del language
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [_norm(x) for x in raw_lines]

    start = _quote_start(lines)
    quoted_lines: list[str] = []
    answer_below = _bottom_post(lines, start)
    if start is not None and answer_below is not None:
        # Bottom-posting: the history comes first and the answer below it.
        quoted_lines = raw_lines[start:answer_below]
        raw_lines, lines = raw_lines[answer_below:], lines[answer_below:]
    elif start is not None:
        quoted_lines = raw_lines[start:]
        raw_lines, lines = raw_lines[:start], lines[:start]

    # Inline '>' lines left above the history (interleaved answers) are quotes too.
    kept_raw, kept = [], []
    inline_quotes = []
    for raw, norm in zip(raw_lines, lines, strict=True):
        if _is_quoted(norm):
            inline_quotes.append(raw)
        else:
            kept_raw.append(raw)
            kept.append(norm)
    if inline_quotes:
        quoted_lines = inline_quotes + ([""] if quoted_lines else []) + quoted_lines

    # Helpdesk reply markers ("##- Please type your reply above this line -##") are not text.
    marker = [i for i, x in enumerate(kept) if _REPLY_MARKER.match(x)]
    for i in reversed(marker):
        del kept[i], kept_raw[i]

    sig_at, _closing = _signature_start(kept)
    signature_lines: list[str] = []
    if sig_at is not None:
        signature_lines = kept_raw[sig_at:]
        kept_raw = kept_raw[:sig_at]
        if signature_lines and signature_lines[0].strip() in ("--", "-- ", "—"):
            signature_lines = signature_lines[1:]

    reply = _trim(kept_raw)
    if not reply.strip() and signature_lines and not _closing:
        # A message that is only a signature-looking block is still what the writer wrote.
        reply, signature_lines = _trim(signature_lines), []
    return reply, _trim(signature_lines).strip(), _trim(quoted_lines).strip()
