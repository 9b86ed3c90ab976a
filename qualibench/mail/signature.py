"""Where a reply's sign-off block starts: the closing formula, the agent's name, team and contacts.

The signature is the sign-off block: the closing formula on its own line and the name lines
after it, or a name block alone, or everything from an RFC 3676 "-- " line. Closings are
known by their words (a list per language) and also by their shape: a short line ending in a
comma, after the text and before a name block ("Speak soon,", "Au plaisir de vous lire,",
"Groetjes,"), so a formula nobody listed is still found.

Every function here reads a bounded tail of the text (the last _MAX_SIG_LINES + 2 lines), so
the cost does not grow with the message.
"""

from __future__ import annotations

import re
import unicodedata

from qualibench.mail.bounds import MAX_PATTERN_LINE
from qualibench.mail.prefilter import prefilter_namespace

_SIG_DELIMITER = re.compile(r"^(?:-- ?|—)$")
CLOSING = re.compile(
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
    r"|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?|groeten|groetjes"
    r"|com\s+os\s+melhores\s+cumprimentos|(?:melhores\s+)?cumprimentos|atenciosamente"
    r"|l['’][ée]quipe\s+\S.*|the\s+\S+(?:\s+\S+)?\s+team"
    r"|nous\s+vous\s+prions\s+d['’]agr[ée]er.{0,200}|veuillez\s+agr[ée]er.{0,200}"
    r"|je\s+vous\s+prie\s+d['’]agr[ée]er.{0,200})"
    r"\s*[,.!]?\s*$",
    re.IGNORECASE,
)
# A team line signs for the agent named just above it ("Léa / L'équipe Modeva").
_TEAM = re.compile(r"^\s*(?:l['’][ée]quipe\s+\S|the\s+\S+(?:\s+\S+)?\s+team\s*[,.!]?\s*$)",
                   re.IGNORECASE)
# A strong closing and the writer's name on one line: "Cordialement, Léa Martin".
_CLOSING_NAMED = re.compile(
    r"^\s*(?:bien\s+|tr[èe]s\s+)?(?:cordialement|bien\s+[àa]\s+vous|(?:sinc[èe]res\s+)?salutations"
    r"|(?:best|kind|warm|warmest)\s+regards|regards|sincerely)\s*(?:[,.]|\s[-–—])\s+"
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
                   r"|responsable|manager|agent|sav|help|technicien|kundendienst|servizio"
                   r"|atendimento|klantenservice)", re.IGNORECASE)
_PERSON = re.compile(r"^[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){0,2}$")
# "Bruno - VéloMondo", "Kevin, technicien Horizon Télécom", "Ellie from Brightcart": a first
# name, then a joiner and the team or company.
_NAME_AND_TEAM = re.compile(
    r"^[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’.-]+)?\s*(?:[-–—,|/(]\s*|\s+(?:from|de\s+chez|de|chez|at|@|von"
    r"|bei|du|pour)\s+)(\S.{0,60})$")
_DASHED_NAME = re.compile(r"^[—–-]{1,2}\s*(?=[A-ZÀ-Ý])")
# How a farewell opens, in the corpus's languages: an exclamation that starts so and stands
# over a name is a closing ("À très vite !", "Speak soon!", "Bis bald!", "Tot snel!").
_FAREWELL = re.compile(
    r"^\s*(?:[àa]\s+(?:bient[ôo]t|tr[èe]s\s+vite|plus|la\s+prochaine|presto|dopo)|au\s+plaisir"
    r"|(?:bonne|belle|excellente)\s|see\s+you|speak\s+soon|talk\s+soon|take\s+care|have\s+a\s"
    r"|bis\s+(?:bald|dann|sp[äa]ter)|sch[öo]ne[nrs]?\s|hasta\s|buen[oa]s?\s|buona\s|tot\s+(?:snel|ziens|gauw)"
    r"|fijne\s|at[ée]\s+(?:breve|logo|j[áa])|boa\s|bom\s)", re.IGNORECASE)
# One-word answers a brand may send alone, capitalised like a name but none.
_ANSWER_WORD = re.compile(
    r"^(?:oui|non|ok|okay|d['’]accord|parfait|super|entendu|not[ée]|top|g[ée]nial|bien|exact|vu|re[çc]u"
    r"|c['’]est\s+not[ée]|yes|no|yep|done|sure|great|perfect|noted|fine|received|understood|ja|nein|s[íi]"
    r"|vale|claro|certo|perfetto|prima|oké|goed|sim|n[ãa]o|certo)\b", re.IGNORECASE)
# A sentence's opening word: a line starting so is text even without its full stop.
_SENTENCE_START = re.compile(
    r"^(?:je|j['’]|nous|vous|il|elle|on|c['’]|ce|cet|cette|ces|le|la|les|l['’]|un|une|des|votre"
    r"|vos|notre|nos|mon|ma|mes|si|pour|en|et|mais|oui|non|n['’]|ne|d['’]|de|du|au|aux|à|il|y"
    r"|i|we|you|it|this|that|the|a|an|your|our|my|if|for|and|but|yes|no|please|please|do|don['’]t"
    r"|let|there|here|just|so|as|to|in|on|at|with|ich|wir|sie|es|das|der|die|bitte|ja|nein)\b",
    re.IGNORECASE)
# A name block after a closing: few short lines (names, roles, phone, site).
_MAX_SIG_LINES = 15
_MAX_SIG_LINE = 110
# A company's legal line in a signature (capital, address, registry, site) runs longer.
_MAX_SIG_CONTACT_LINE = 300


def _unadorned(text: str) -> str:
    """Give back a line without the emoji and symbols that end it ("Chloé 💛", "Julie 🙂")."""
    text = text.strip()
    end = len(text)
    while end and (unicodedata.category(text[end - 1])[0] == "S" or text[end - 1] in "\ufe0f\u200d "):
        end -= 1
    return text[:end] if end else text


def _pattern_line(line: str) -> bool:
    return bool(line.strip()) and len(line) <= MAX_PATTERN_LINE


def is_closing(line: str) -> bool:
    return _pattern_line(line) and bool(CLOSING.match(line))


def _name_line(line: str) -> bool:
    """Say whether a line reads like part of a name block rather than a sentence."""
    text = line.strip()
    if _CONTACT.search(text):
        return True
    return len(text.split()) <= 6 and not text.endswith((".", "!", "?", ":", ";"))


def _sig_line_length(line: str) -> bool:
    text = line.strip()
    return len(text) <= _MAX_SIG_LINE or (len(text) <= _MAX_SIG_CONTACT_LINE
                                          and bool(_CONTACT.search(text)))


def _name_block_line(line: str) -> bool:
    text = _unadorned(line)
    # "Julie M.", "Maison Verdi S.r.l.", "Brightcart Ltd.": an initial or a company's
    # abbreviation, not a sentence's end.
    if re.search(r"(?:\b[A-ZÀ-Ý]|\b(?:S\.?A|S\.?A\.?S|SARL|S\.r\.l|S\.p\.A|S\.L|Inc|Ltd|Co|Cie|GmbH|AG"
                 r"|B\.V|N\.V|Lda|plc|LLC|Corp))\.$", text):
        text = text[:-1]
    return len(text) <= _MAX_SIG_LINE and not text.endswith((".", "!", "?", ":", ";", ","))


def _name_and_team(text: str) -> bool:
    """Say whether a line is a first name joined to a team or company ("Bruno - VéloMondo",
    "Sarah, conseillère clientèle"): what follows the joiner names someone, by a capital or a
    role, so that "Maison - réponse automatique" or a sentence is not taken for one."""
    found = _NAME_AND_TEAM.match(text)
    if not found or len(text.split()) > 7 or _SENTENCE_START.match(text):
        return False
    team = found.group(1)
    return bool(re.search(r"(?:^|\s)[A-ZÀ-Ý0-9]", team) or _ROLE.search(team))


def _signs(line: str) -> bool:
    """Say whether a line names its writer: a person, a person and their team, a role, a contact."""
    text = _unadorned(line)
    if _PERSON.match(text) or _CONTACT.search(text) or _ROLE.search(text):
        return True
    return _name_and_team(text)


def _bare_name_block(lines: list[str], nonblank: list[int]) -> int | None:
    """Give back where a trailing name block with no closing word starts, or None.

    The block is the last paragraph, or the last few one-line paragraphs (an HTML signature
    gives one <p> per line), of name-like lines with a person's name, a role or a contact.
    """
    paragraphs: list[list[int]] = []
    for i in reversed(nonblank[-(_MAX_SIG_LINES + 2):]):
        if paragraphs and i == paragraphs[-1][-1] - 1:
            paragraphs[-1].append(i)
        else:
            paragraphs.append([i])
    for para in paragraphs:
        para.reverse()
    block = paragraphs[0]
    for para in paragraphs[1:]:  # one-line paragraphs just above still belong to it
        if len(block) + len(para) > 6 or len(para) > 1 or not _name_block_line(lines[para[0]]) \
                or not _signs(lines[para[0]]):
            break
        block = para + block
    # "— Julie", "-Julie": a dash before the name signs too.
    texts = [_DASHED_NAME.sub("", _unadorned(lines[i]), count=1) if k == 0 else _unadorned(lines[i])
             for k, i in enumerate(block)]
    if len(block) > 6 or not all(_name_block_line(x) for x in texts):
        return _name_under_sentence(lines, block)
    person = bool(_PERSON.match(texts[0])) or _name_and_team(texts[0])
    marked = any(_CONTACT.search(x) or _ROLE.search(x) for x in texts)
    if block[0] == nonblank[0]:
        # The whole message: a signature only if it plainly is one (a name and a role/contact,
        # or a lone name that is no one-word answer: "Julie", not "Parfait" or "D'accord").
        if len(block) == 1 and _PERSON.match(texts[0]) and len(texts[0].split()) <= 2 \
                and not _ANSWER_WORD.match(texts[0]) and not CLOSING.match(texts[0]):
            return block[0]
        return block[0] if person and marked and len(block) >= 2 else None
    return block[0] if person or marked else None


def _name_under_sentence(lines: list[str], paragraph: list[int]) -> int | None:
    """Give back where a name written straight under the text's last sentence starts
    ("C'est réglé !\nJulie"), or None: one to three name lines after a sentence's end."""
    for size in (1, 2, 3):
        if size >= len(paragraph):
            return None
        first = paragraph[-size]
        above = lines[first - 1].rstrip()
        if above.endswith((".", "!", "?")) and _PERSON.match(_unadorned(lines[first])) \
                and all(_name_block_line(lines[k]) for k in paragraph[-size:]):
            return first
    return None


def shaped_closing(line: str) -> bool:
    """Say whether a line has a closing's shape: short, and ending in a comma (or a very short
    exclamation: "À très vite !")."""
    text = line.strip()
    return (text.endswith(",") and len(text.split()) <= 6 and len(text) <= 60) or (
        text.endswith("!") and len(text.rstrip("! ").split()) <= 4 and bool(_FAREWELL.match(text)))


def _closing_by_shape(lines: list[str], nonblank: list[int]) -> int | None:
    """Give back a closing known by its shape, not its words: a short line ending in a comma
    that opens the last paragraph, followed by one to four name lines ("Speak soon, / Ellie")."""
    for pos in range(len(nonblank) - 2, max(len(nonblank) - 7, 0), -1):
        i = nonblank[pos]
        text = lines[i].strip()
        if nonblank[pos - 1] == i - 1:  # not the first line of its paragraph
            continue
        after = nonblank[pos + 1:]
        if not shaped_closing(text) or not 1 <= len(after) <= 4 or after != list(range(i + 1, i + 1 + len(after))):
            return None
        first = _unadorned(lines[after[0]])
        if _name_block_line(first) and (_PERSON.match(first) or _signs(first)) \
                and all(_name_block_line(lines[k]) for k in after):
            return i
        return None
    return None


# "Bonne journée, Julie", "Speak soon, Ellie", "Thanks! Tom": a short farewell and a name.
_FAREWELL_AND_NAME = re.compile(
    r"^\s*(?P<farewell>[^,!.?]{2,40})[,!]\s+(?P<name>[A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+){0,2})\s*$")


def _closing_and_name(lines: list[str], nonblank: list[int]) -> int | None:
    """Give back the last line when it is a farewell (a closing formula, or a farewell's
    opening) and the writer's name on one line, set apart from the text (a blank line or a
    sentence's end above it), or None."""
    if len(nonblank) < 2:
        return None
    last = nonblank[-1]
    text = _unadorned(lines[last])
    found = _FAREWELL_AND_NAME.match(text) if _pattern_line(lines[last]) else None
    if not found or len(found["farewell"].split()) > 5 or not (
            CLOSING.match(found["farewell"]) or _FAREWELL.match(found["farewell"])):
        return None
    above = lines[last - 1].rstrip()
    return last if not above.strip() or above.endswith((".", "!", "?")) else None


def closing_and_name(line: str) -> tuple[str, str] | None:
    """Split a one-line sign-off into its closing and the name ("Cordialement, Léa Martin" ->
    ("Cordialement,", "Léa Martin")), or give None when the line is not one."""
    text = _unadorned(line)
    found = _FAREWELL_AND_NAME.match(text) if _pattern_line(line) else None
    if not found or not (CLOSING.match(found["farewell"]) or _FAREWELL.match(found["farewell"])):
        return None
    cut = found.end("farewell") + 1
    return line.strip()[:cut].strip(), line.strip()[cut:].strip()


def signature_start(lines: list[str]) -> int | None:
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
        if _pattern_line(lines[i]) and (CLOSING.match(lines[i]) or _CLOSING_NAMED.match(lines[i])):
            after = [x for x in lines[i + 1 :] if x.strip()]
            if len(after) > _MAX_SIG_LINES or any(not _sig_line_length(x) for x in after):
                break
            if len(after) > 8 and sum(not _name_line(x) for x in after) > len(after) // 3:
                break  # a long block under a closing is a name block, not more text
            if _WEAK_CLOSING.match(lines[i]) and not all(_name_line(x) for x in after):
                continue
            found = i
    if found is not None and found == nonblank[0] and found == nonblank[-1]:
        found = None  # "Merci !" alone is the whole answer, not a sign-off
    if found is not None and _TEAM.match(lines[found]):
        # The agent's name lines just above their team's line sign too.
        while found - 1 >= 0 and lines[found - 1].strip() and _name_block_line(lines[found - 1]) \
                and _signs(lines[found - 1]) and found - 1 != nonblank[0]:
            found -= 1
    if found is None:
        found = _closing_by_shape(lines, nonblank)
    if found is None:
        found = _closing_and_name(lines, nonblank)
    return found if found is not None else _bare_name_block(lines, nonblank)


# Speed only: each pattern above first looks, with plain substring tests, for the words any of
# its matches contains (mail.prefilter derives them from the pattern itself); results are the
# patterns' own.
prefilter_namespace(globals())
