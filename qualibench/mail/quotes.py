"""Split a reply's text into what the writer wrote, their signature and the quoted history.

Shapes covered (tests/fixtures/quotes/dev/ is the development corpus): attributions of Gmail,
Apple Mail, Thunderbird, Zoho and helpdesks in French, English, German, Spanish, Italian, Dutch
and Portuguese ("Le ... a écrit :", "On ... wrote", "Am ... schrieb", "El ... escribió", "Il
giorno ... ha scritto", "Op ... schreef", "Em ... escreveu"), date-first attributions, Outlook
and webmail header blocks ("De : / Envoyé (le) : / À : / Objet :", "Message du :", "Date:"
first, a wrapped "From:"), "Original message" separators, '>' quoting, answers below the
quote, and the chrome that belongs to neither reply nor signature: client footers ("Envoyé de
mon iPhone"), helpdesk markers and comment headers, ticket lines, legal disclaimers and
mailing-list footers.

The signature is the sign-off block: the closing formula on its own line and the name lines
after it, or a name block alone, or everything from an RFC 3676 "-- " line. The scorer rates
politeness on the closing, so `for_scoring` gives the reply with its closing back.
"""

from __future__ import annotations

import re

from qualibench.mail.bounds import MAX_PATTERN_LINE

# No-break spaces (U+00A0, U+202F) precede colons in French typography and in Outlook FR.
_NBSP = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\ufeff": ""})

_WROTE = (r"(?:a\s+[ée]crit|wrote|schrieb|escribi[óo]|ha\s+scritto|schreef|escreveu"
          r"|het\s+volgende\s+geschreven|kirjoitti|skrev|napisał)")
_DASHES = r"(?:-{2,}\s*)?"
_ATTRIBUTION = re.compile(
    rf"^\s*{_DASHES}(?:"
    rf"(?:le|on|am|el|il\s+giorno|op|em)\s.{{4,220}}?\s{_WROTE}(?:\s.{{0,80}}?)?\s*:?"
    rf"|.{{2,160}}?\s{_WROTE}(?:\s+(?:am|le|on|el|il|op|em)\s.{{0,60}}?)?\s*:"  # "Marie a écrit :"
    r")\s*(?:-{2,})?\s*$",
    re.IGNORECASE,
)
# "2017-11-24 16:32 GMT+01:00 Marie <m@x.fr>:", "30/11/2026 14:02, Marie <m@x.fr> :"
_DATE_FIRST = re.compile(
    r"^\s*(?:\d{4}-\d{2}-\d{2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})[ ,T]+\d{1,2}[:h]\d{2}.{0,120}"
    r"(?:<[^<>\s@]+@[^<>\s]+>|[A-Za-zÀ-ÿ])\s*:\s*$")
# An attribution glued to the end of the reply's last sentence by a reflowing client.
_INLINE_ATTRIBUTION = re.compile(
    # (no sentence end inside it: the attribution starts after the reply's last sentence)
    rf"(?<=[.!?])\s+((?i:le|on)\s(?:(?![.!?]\s+[A-ZÀ-Ý]).){{4,220}}?\s(?i:{_WROTE})\s*:?)\s*$")
_SEPARATOR = re.compile(
    r"^\s*[-_=*]*\s*(?:"
    r"original\s+message|message\s+d['’]origine|forwarded\s+message|message\s+transf[ée]r[ée]"
    r"|message\s+original|mail\s+original|mail\s+d['’]origine|urspr[üu]ngliche\s+nachricht"
    r"|mensaje\s+original|messaggio\s+originale|oorspronkelijk\s+bericht|mensagem\s+original"
    r"|reply\s+above\s+this\s+line|r[ée]pondez\s+au-dessus\s+de\s+cette\s+ligne"
    r"|begin\s+forwarded\s+message\s*:|d[ée]but\s+du\s+message\s+r[ée]exp[ée]di[ée]\s*:"
    r")\s*[-_=*]*\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:de|from|von|da|van|exp[ée]diteur)\s*\*?\s*:\s*\*?\s*\S",
                          re.IGNORECASE)
_HEADER_ANY = re.compile(
    r"^\s*>?\s*\*?(?:de|from|von|da|van|exp[ée]diteur|envoy[ée](?:\s+le)?|sent|date|datum|[àa]|to"
    r"|objet|subject|sujet|cc|cci|bcc|copie\s+[àa]|r[ée]pondre\s+[àa]|reply-to|destinataire"
    r"|message\s+du|gesendet|an|betreff|enviad[oa](?:\s+el)?|para|asunto|inviato|data|oggetto"
    r"|verzonden|aan|onderwerp|assunto|kopie|importance|priorit[ée])\s*\*?\s*:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(?:_{10,}|-{10,}|={10,})\s*$")
_REPLY_MARKER = re.compile(r"^\s*##-.{5,120}-##\s*$")
# A helpdesk comment header: an author line, then a date stamp alone ("30 nov. 2026 à 14:02 CET").
_STAMP = re.compile(
    r"^\s*(?:\w+\.?,?\s+)?(?:\d{1,2}\s+\w+\.?\s+\d{4}|\w+\.?\s+\d{1,2},\s+\d{4})"
    r",?\s+(?:[àa]\s+|at\s+)?\d{1,2}[:h]\d{2}(?:\s*(?:[AP]M|UTC|CET|CEST|GMT[+-]?\d*|[+-]\d{4}))*\s*$",
    re.IGNORECASE)
# Lines of helpdesk and client chrome: neither the reply nor the signature.
_CHROME = re.compile(
    r"^\s*(?:envoy[ée]\s+(?:de|depuis|à\s+partir\s+d[e'’])\s*(?:mon|ma|l['’]app|outlook|yahoo|\w+\s+pour)"
    r"|sent\s+(?:from|via)\s+(?:my|outlook|yahoo|mail\s+for)|sent\s+with\s+\w+\s+mail|get\s+outlook\s+for"
    r"|t[ée]l[ée]chargez\s+outlook|obtenir\s+outlook\s+pour|von\s+meinem\s+\w+\s+gesendet"
    r"|enviado\s+desde\s+mi|inviato\s+da(?:l\s+mio)?\s|verzonden\s+vanaf\s+mijn|enviado\s+do\s+meu"
    r"|ref:_\S+:ref|ticket\s+#\s*\d+\s*:|\[\s*#?[\w-]*\d[\w-]*\s*\]\s*$"
    r"|(?:ticket|r[ée]f(?:[ée]rence)?\.?|case|dossier)\s*(?:n[°o]\.?\s*|#\s*|:\s*#?)\s*[\w-]*\d[\w-]*\s*$|(?:votre\s+demande|your\s+request)\s+\(#?\d+\)\s+(?:a\s+[ée]t[ée]\s+mise\s+[àa]\s+jour|a\s+re[çc]u\s+une\s+r[ée]ponse"
    r"|has\s+been\s+updated|has\s+(?:received|got)\s+an?\s+(?:response|reply|answer))"
    r"|ce\s+message\s+a\s+[ée]t[ée]\s+envoy[ée]\s+par\s+zendesk|this\s+email\s+is\s+a\s+service\s+from"
    r"|pensez\s+[àa]\s+l['’]environnement|please\s+consider\s+the\s+environment)",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^\s*(?:ce\s+(?:message|courriel|mail|e-mail)|le\s+pr[ée]sent\s+(?:message|courriel)"
    r"|this\s+(?:e-?mail|message)|the\s+information\s+(?:contained\s+)?in\s+this|disclaimer"
    r"|avertissement|confidentialit[ée]|avis\s+de\s+confidentialit|confidentiality\s+notice"
    r"|les\s+informations\s+contenues|le\s+contenu\s+de\s+ce|this\s+communication"
    r"|diese\s+e-?mail|pour\s+r[ée]pondre,?\s+utilisez).{0,300}?"
    r"(?:confidenti|vertraulich|destinataire|intended|addressee|r[ée]pondre|ne\s+pas\s+modifier)",
    re.IGNORECASE,
)
_LIST_FOOTER = re.compile(
    r"^\s*(?:\S.{0,80}\s(?:mailing\s+list|liste\s+de\s+diffusion)\s*$"
    r"|you\s+received\s+this\s+message\s+because\s+you\s+are\s+subscribed"
    r"|vous\s+recevez\s+ce\s+message,?\s+car\s+vous\s+[êe]tes\s+abonn"
    r"|to\s+unsubscribe\s+from\s+this\s+group|pour\s+vous\s+d[ée]sabonner\s+de\s+ce\s+groupe"
    # A helpdesk's notification footer: why this mail came, through what ("automatiquement" is
    # left out: an acknowledgement says so in its own words, and that is the brand's text).
    r"|vous\s+recevez\s+(?:cet?|ce)\s+(?:e-?mail|message|courriel|mail)\s+(?:car|parce\s+que|suite)"
    r"|you\s+(?:are\s+receiving|received|have\s+received)\s+this\s+(?:e-?mail|message)\s+because"
    r"|ce\s+(?:message|e-?mail|courriel|mail)\s+a\s+[ée]t[ée]\s+envoy[ée]\s+(?:par|via|depuis)\s"
    r"|this\s+(?:e-?mail|message)\s+(?:was|has\s+been)\s+sent\s+(?:by|via|from|through)\s)",
    re.IGNORECASE)
# "Message du 30/11/26 14:02" above a webmail header block (La Poste): part of the history.
_MESSAGE_DU = re.compile(r"^\s*>?\s*message\s+du\s*:?\s*\d", re.IGNORECASE)

_SIG_DELIMITER = re.compile(r"^(?:-- ?|—)$")
_CLOSING = re.compile(
    r"^\s*(?:bien\s+|tr[èe]s\s+)?(?:cordialement|cordiales\s+salutations|sinc[èe]rement|cdlt|cdt"
    r"|merci\s+et\s+(?:bonne|belle|excellente)\s+(?:journ[ée]e|soir[ée]e|semaine)"
    r"|excellente\s+(?:journ[ée]e|soir[ée]e|semaine)|with\s+(?:kind|best|warm)\s+regards"
    r"|have\s+a\s+(?:great|nice|good|lovely)\s+(?:day|week|weekend)|mfg|mit\s+besten\s+gr[üu](?:ß|ss)en"
    r"|(?:reciba\s+)?un\s+cordial\s+saludo|cordialmente|un\s+saluto|hartelijke\s+groet(?:en)?"
    r"|bien\s+[àa]\s+vous|bien\s+[àa]\s+toi|amicalement|[àa]\s+bient[ôo]t"
    r"|(?:sinc[èe]res\s+|meilleures\s+)?salutations(?:\s+distingu[ée]es)?|respectueusement"
    r"|(?:bonne|belle)\s+(?:journ[ée]e|soir[ée]e|fin\s+de\s+journ[ée]e|semaine)(?:\s+[àa]\s+vous)?"
    r"|(?:best|kind|warm|warmest)(?:\s+(?:regards|wishes))?|regards|sincerely"
    r"|yours\s+(?:sincerely|truly|faithfully)|many\s+thanks|thanks(?:\s+again)?|thank\s+you"
    r"|cheers|all\s+the\s+best|merci(?:\s+beaucoup|\s+encore)?"
    r"|mit\s+freundlichen\s+gr[üu](?:ß|ss)en|(?:viele|beste|freundliche|liebe)\s+gr[üu](?:ß|ss)e"
    r"|un\s+saludo|saludos(?:\s+cordiales)?|atentamente|cordiali\s+saluti|distinti\s+saluti|saluti"
    r"|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groeten"
    r"|com\s+os\s+melhores\s+cumprimentos|(?:melhores\s+)?cumprimentos|atenciosamente"
    r"|l['’][ée]quipe\s+\S.*|the\s+\S+(?:\s+\S+)?\s+team"
    r"|nous\s+vous\s+prions\s+d['’]agr[ée]er.{0,200}|veuillez\s+agr[ée]er.{0,200}"
    r"|je\s+vous\s+prie\s+d['’]agr[ée]er.{0,200})"
    r"\s*[,.!]?\s*$",
    re.IGNORECASE,
)
# A strong closing and the writer's name on one line: "Cordialement, Léa Martin".
_CLOSING_NAMED = re.compile(
    r"^\s*(?:bien\s+|tr[èe]s\s+)?(?:cordialement|bien\s+[àa]\s+vous|(?:sinc[èe]res\s+)?salutations"
    r"|(?:best|kind|warm|warmest)\s+regards|regards|sincerely)\s*,\s+"
    r"(?-i:[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){0,2})\s*\.?\s*$",
    re.IGNORECASE,
)
# "Merci." or "Thanks," may also open a sentence run; after them only a bare name block counts.
_WEAK_CLOSING = re.compile(
    r"^\s*(?:many\s+thanks|thanks(?:\s+again)?|thank\s+you|cheers|best|merci(?:\s+beaucoup|\s+encore)?"
    r"|(?:bonne|belle)\s+(?:journ[ée]e|soir[ée]e|fin\s+de\s+journ[ée]e))\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_CONTACT = re.compile(r"\d{2}[ .]?\d{2}|@|www\.|https?://|\|")
_ROLE = re.compile(r"\b(?:service|support|team|[ée]quipe|conseill|client|customer|care|advisor"
                   r"|responsable|manager|agent|sav|help)", re.IGNORECASE)
_PERSON = re.compile(r"^[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){0,2}$")
# A name block after a closing: few short lines (names, roles, phone, site).
_MAX_SIG_LINES = 10
_MAX_SIG_LINE = 110


def _norm(line: str) -> str:
    return line.translate(_NBSP)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _pattern_line(line: str) -> bool:
    return bool(line.strip()) and len(line) <= MAX_PATTERN_LINE


def _header_block_at(lines: list[str], i: int) -> bool:
    """Say whether lines[i] opens a header block: three header lines, one of them a sender."""
    if not _pattern_line(lines[i]) or not _HEADER_ANY.match(lines[i]):
        return False
    headers = 0
    sender = False
    for line in lines[i : i + 8]:
        if not line.strip():
            if headers:
                break
            continue
        if _pattern_line(line) and _HEADER_ANY.match(line):
            headers += 1
            sender = sender or bool(_HEADER_FROM.match(line.lstrip("> ")))
        elif line.strip().startswith("<") and headers:  # a wrapped "From: Name\n<address>"
            continue
        else:
            break
    return headers >= 3 and sender or (headers >= 2 and sender and bool(_HEADER_FROM.match(lines[i])))


def _attribution_at(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _DATE_FIRST.match(line):
        return True
    # Attributions may be wrapped over two or three lines by the sending client.
    for span in (1, 2, 3):
        parts = lines[i : i + span]
        if span > 1 and (not re.match(r"^\s*(?:-+\s*)?(?:le|on|am|el|il|op|em)\s", line, re.I)
                         or not parts[-1].strip() or _is_quoted(parts[-1])):
            break  # only "Le .../On ..." attributions get wrapped, and not into the quote
        joined = " ".join(part.strip() for part in parts)
        if len(joined) < 320 and _ATTRIBUTION.match(joined):
            return True
    return False


def _stamp_after(lines: list[str], i: int) -> int | None:
    """Give back the index of the date stamp under a comment's author line i, or None.

    (An HTML helpdesk mail puts them in two paragraphs: one blank line may sit between.)
    """
    if not _pattern_line(lines[i]) or len(lines[i].split()) > 6 \
            or lines[i].rstrip().endswith((".", ":", ",", "!", "?")):
        return None
    for k in (i + 1, i + 2):
        if k < len(lines) and lines[k].strip():
            return k if _STAMP.match(lines[k]) else None
    return None


def _comment_header_at(lines: list[str], i: int) -> bool:
    """Say whether lines[i] is a helpdesk comment's author line, followed by its date stamp."""
    return _stamp_after(lines, i) is not None


def _quote_start(lines: list[str], first_text: int = 0) -> int | None:
    """Give back the index of the first line of quoted history, or None.

    One pass, each line tried against patterns on at most MAX_PATTERN_LINE characters, so
    the cost is linear in the text whatever its shape.
    """
    # quoted_to_end[i]: every non-blank line from i on is '>'-quoted (computed once, backwards).
    quoted_to_end = [False] * (len(lines) + 1)
    quoted_to_end[len(lines)] = True
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        quoted_to_end[i] = quoted_to_end[i + 1] and (not line.strip() or _is_quoted(line))
    for i, line in enumerate(lines):
        if i < first_text:
            continue  # the helpdesk's chrome above the reply (markers, the agent's header)
        if not _pattern_line(line):
            if line.strip() and _is_quoted(line) and quoted_to_end[i]:
                return i
            continue
        if _SEPARATOR.match(line) or _attribution_at(lines, i):
            return i
        if _MESSAGE_DU.match(line) and any(_header_block_at(lines, k)
                                             for k in range(i + 1, min(i + 3, len(lines)))):
            return i
        if _header_block_at(lines, i):
            # An Outlook rule ("____") right above belongs to the history too.
            j = i - 1
            while j >= 0 and not lines[j].strip():
                j -= 1
            return j if j >= 0 and _RULE.match(lines[j]) else i
        if i > first_text and _comment_header_at(lines, i):
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
    return len(text.split()) <= 6 and not text.endswith((".", "!", "?", ":", ";"))


def _name_block_line(line: str) -> bool:
    text = line.strip()
    if re.search(r"\b[A-ZÀ-Ý]\.$", text):  # "Julie M.": an initial, not a sentence's end
        text = text[:-1]
    return len(text) <= _MAX_SIG_LINE and not text.endswith((".", "!", "?", ":", ";", ","))


def _bare_name_block(lines: list[str], nonblank: list[int]) -> int | None:
    """Give back where a trailing name block with no closing word starts, or None.

    The block is the last paragraph, or the last few one-line paragraphs (an HTML signature
    gives one <p> per line), of name-like lines with a person's name, a role or a contact.
    """
    paragraphs: list[list[int]] = []
    for i in reversed(nonblank):
        if paragraphs and i == paragraphs[-1][-1] - 1:
            paragraphs[-1].append(i)
        else:
            paragraphs.append([i])
    for para in paragraphs:
        para.reverse()
    block = paragraphs[0]
    for para in paragraphs[1:]:  # one-line paragraphs just above still belong to it
        if len(block) + len(para) > 6 or len(para) > 1 or not _name_block_line(lines[para[0]]) \
                or not (_CONTACT.search(lines[para[0]]) or _ROLE.search(lines[para[0]])
                        or _PERSON.match(lines[para[0]].strip())):
            break
        block = para + block
    texts = [lines[i].strip() for i in block]
    if len(block) > 6 or not all(_name_block_line(x) for x in texts):
        return None
    person = bool(_PERSON.match(texts[0]))
    marked = any(_CONTACT.search(x) or _ROLE.search(x) for x in texts)
    if block[0] == nonblank[0]:
        # The whole message: a signature only if it plainly is one (a name and a role/contact).
        return block[0] if person and marked and len(block) >= 2 else None
    return block[0] if person or marked else None


def _signature_start(lines: list[str]) -> int | None:
    """Give back the index where the signature (closing line included) starts, or None."""
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line.rstrip("\n")) or line.strip() in ("--", "-- "):
            return i
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        return None
    # The first closing formula followed only by a short name block (which may hold another
    # closing-like line: "Cordialement, / Léa / L'équipe Verdier").
    found = None
    for i in reversed(nonblank[-(_MAX_SIG_LINES + 2) :]):
        if _pattern_line(lines[i]) and (_CLOSING.match(lines[i]) or _CLOSING_NAMED.match(lines[i])):
            after = [x for x in lines[i + 1 :] if x.strip()]
            if len(after) > _MAX_SIG_LINES or any(len(x.strip()) > _MAX_SIG_LINE for x in after):
                break
            if _WEAK_CLOSING.match(lines[i]) and not all(_name_line(x) for x in after):
                continue
            found = i
    return found if found is not None else _bare_name_block(lines, nonblank)


def _trim(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n").rstrip()


def _split_inline_attribution(raw: list[str], lines: list[str]) -> None:
    """Put an attribution glued to the end of a sentence on a line of its own (in place)."""
    for i in range(len(lines) - 1, -1, -1):
        if not _pattern_line(lines[i]):
            continue
        found = _INLINE_ATTRIBUTION.search(lines[i])
        if found and lines[i][: found.start()].strip():
            cut = found.start(1)
            raw[i : i + 1] = [raw[i][:cut].rstrip(), raw[i][cut:]]
            lines[i : i + 1] = [lines[i][:cut].rstrip(), lines[i][cut:]]


def _first_text(lines: list[str]) -> int:
    return next((i for i, x in enumerate(lines) if x.strip()), 0)


# "Reply above this line" markers at the top of a helpdesk notification: the reply is below.
_TOP_MARKER = re.compile(
    r"^\s*[-#=*_\s]*(?:please\s+)?(?:type\s+your\s+)?(?:reply|r[ée]pon(?:dez|dre)|answer)"
    r".{0,40}(?:above\s+this\s+line|au-dessus\s+de\s+cette\s+ligne)[-#=*_\s]*$", re.IGNORECASE)


def _drop_chrome(raw: list[str], lines: list[str]) -> tuple[list[str], list[str]]:
    """Remove helpdesk and client chrome; cut at a disclaimer or a list/helpdesk footer."""
    kept_raw: list[str] = []
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _pattern_line(line) and (_DISCLAIMER.match(line) or (
                _RULE.match(line) and any(x.strip() for x in kept))):
            break  # the rest is a disclaimer or footer (history was cut before)
        if _pattern_line(line) and _LIST_FOOTER.match(line):
            # A list footer often hangs under a "-- " line: that line goes with it.
            while kept and (not kept[-1].strip() or kept[-1].strip() in ("--", "-- ")):
                kept.pop()
                kept_raw.pop()
            break
        if _pattern_line(line) and (_CHROME.match(line) or _REPLY_MARKER.match(line)):
            i += 1
            continue
        if not any(x.strip() for x in kept) and (stamp := _stamp_after(lines, i)) is not None:
            i = stamp + 1  # the helpdesk's own header above the agent's comment
            continue
        if not any(x.strip() for x in kept) and _pattern_line(line) and _TOP_MARKER.match(line):
            i += 1
            continue
        kept_raw.append(raw[i])
        kept.append(line)
        i += 1
    return kept_raw, kept


def split_reply(text: str, language: str | None = None) -> tuple[str, str, str]:
    """Give back (reply, signature, quoted) for a message body; every language's patterns apply.

    `language` is accepted for callers that know it; all patterns are tried anyway since
    brands often answer with templates in another language.
    """
    del language
    raw_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [_norm(x) for x in raw_lines]
    _split_inline_attribution(raw_lines, lines)

    # Chrome at the very top (a helpdesk marker, its "request updated" line, the agent's
    # comment header) would hide where the history starts.
    top = _first_text(lines)
    while top < len(lines) and (_REPLY_MARKER.match(lines[top]) or _CHROME.match(lines[top])
                                or _TOP_MARKER.match(lines[top]) or not lines[top].strip()):
        top += 1
    stamp = _stamp_after(lines, top) if top < len(lines) else None
    first = stamp + 1 if stamp is not None else top
    start = _quote_start(lines, first)
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
    kept_raw, kept = _drop_chrome(kept_raw, kept)

    sig_at = _signature_start(kept)
    signature_lines: list[str] = []
    if sig_at is not None:
        signature_lines = kept_raw[sig_at:]
        kept_raw = kept_raw[:sig_at]

    reply = _trim(kept_raw)
    return reply, _trim(signature_lines).strip(), _trim(quoted_lines).strip()


def for_scoring(reply: str, signature: str) -> tuple[str, str]:
    """Give back (text the scorer rates, name block): the closing formula goes with the text.

    Politeness is rated on the closing ("Cordialement,"), which the corpus convention puts at
    the head of the signature; the separator line "-- " is no part of either.
    """
    lines = signature.split("\n") if signature else []
    if lines and lines[0].strip() in ("--", "-- ", "—"):
        lines = lines[1:]
    if lines and _pattern_line(_norm(lines[0])) and _CLOSING.match(_norm(lines[0])):
        closing = lines[0].strip()
        reply = f"{reply}\n\n{closing}" if reply.strip() else closing
        lines = lines[1:]
    return reply, "\n".join(lines).strip()
