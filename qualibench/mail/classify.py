"""Say what kind of reply a message is: bounce, out-of-office, acknowledgement, redirect, answer.

Headers are strong signals but not proof: Zendesk and some other helpdesks stamp
`Auto-Submitted: auto-generated` on every notification, including an agent's real answer,
so a substantive text without acknowledgement wording is still classed as an answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from qualibench.mail.language import detect_language
from qualibench.mail.parse import ParsedMessage
from qualibench.mail.quotes import split_reply
from qualibench.models import ReplyKind

# A person cannot read, think and type an answer this fast.
INSTANT_REPLY = timedelta(seconds=90)


@dataclass
class Classification:
    """The kind of a reply and why, plus what the kind implies (redirect target, bounce facts)."""

    kind: ReplyKind
    reason: str
    redirect_to: str = ""
    ticket_ref: str = ""
    failed_recipients: list[str] = field(default_factory=list)
    bounce_diagnostic: str = ""
    language: str = ""


def _fold(text: str) -> str:
    """Lowercase, strip accents and fold typographic apostrophes/spaces, for wording checks."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", text.casefold())


_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
# Anchored: "RE: Undelivered parcel" is a customer's subject, not a bounce.
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:undeliver|returned mail|mail delivery (?:failed|failure|subsystem)"
    r"|delivery status notification \((?:failure|echec)|delivery failure|(?:message )?non remis"
    r"|non distribuable|echec de (?:la )?(?:remise|distribution)|failure notice|message not delivered"
    r"|remise impossible|notification d'etat de (?:la )?remise \(echec)",
)
# What mail systems write in a bounce, and agents do not.
_BOUNCE_BODY = re.compile(
    r"\b5\.\d{1,3}\.\d{1,3}\b|\b5[0-5]\d[ -]|permanent (?:error|failure)|mail delivery (?:software|system)"
    r"|delivery (?:has )?failed|could not be delivered to one or more|n'a pas pu etre (?:remis|distribue)"
    r"|la remise (?:du message )?.{0,60}a echoue|address(?:es)? failed|user unknown|recipientnotfound"
)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b(5[0-5]\d)[ -]")
_ADDRESS = re.compile(r"<?([\w.+'-]+@[\w-]+(?:\.[\w-]+)+)>?")

# First-person absence notices; third-person mentions ("the manager is on leave") are weak.
_OOF_WORDING = re.compile(
    r"absente?(?:\(e\))? du bureau|je suis (?:actuellement )?absente?|je serai absente?|out of (?:the )?office"
    r"|i am (?:currently )?(?:away|out)|i'm (?:currently )?(?:away|out of)|je suis en conges"
    r"|reponse automatique d'absence|absence du bureau|i am on (?:annual )?leave"
)
_OOF_WEAK = re.compile(
    r"en conges|on (?:annual )?leave|de retour le|back in the office|je serai de retour|i will be back"
    r"|limited access to (?:my )?e-?mail"
)
_OOF_SUBJECT = re.compile(
    r"^(?:automatic reply|reponse automatique|out of (?:the )?office|ooo\b|absente? du bureau|absence du bureau)"
)
_ACK_WORDING = re.compile(
    r"nous avons bien recu|avons bien pris en compte|bien ete (?:recu|enregistre|prise en compte)"
    r"|accuse de reception|message automatique|reponse automatique|ceci est un (?:message|mail|e-?mail|courriel) automatique"
    r"|merci de ne pas repondre|ne pas repondre a ce|dans les meilleurs delais|sous (?:\d+|quarante-huit|48|72|24) ?h"
    r"|votre demande (?:a ete|est) (?:enregistree|transmise|bien)|(?:un|une) (?:ticket|dossier|demande) (?:a ete|n°).{0,40}cree"
    r"|numero de (?:ticket|dossier|demande)|we have received your|we've received your|this is an automated"
    r"|automatic(?:ally generated)? (?:response|reply|message)|do not reply to this|please do not reply"
    r"|(?:ticket|case|request) #?\s?[\w-]+ has been (?:created|opened|received)|will get back to you"
    r"|will respond (?:to you )?(?:as soon as|within)|reviewing your request|our team will (?:contact|reply|respond)"
    r"|un conseiller (?:vous repondra|reviendra|va vous repondre)|reviendrons vers vous"
)
_ACK_SUBJECT = re.compile(
    r"^(?:accuse de reception|acknowledge?ment|ticket received|request received|\[request received\]"
    r"|demande (?:recue|enregistree)|votre demande a (?:bien )?ete (?:recue|enregistree)|automatic reply)"
)
_AUTO_PRECEDENCE = {"auto_reply", "bulk", "junk", "list"}
_PHONE = re.compile(
    r"(?<!\d)(?:\+33 ?|0)[1-9](?:[ .-]?\d{2}){4}(?!\d)|(?<!\d)0 ?8 ?9\d(?:[ .-]?\d{2,3}){2,3}(?!\d)|(?<!\d)3\d{3}(?!\d)"
)
_PREMIUM = re.compile(r"(?<!\d)(?:\+33 ?|0) ?8 ?9\d")
_URL = re.compile(r"https?://[^\s<>\")]+|www\.[^\s<>\")]+")
_REDIRECT = re.compile(
    r"appele[zr]|contacte[zr][- ](?:nous|notre)|telephon|joindre (?:notre|le) service|par telephone"
    r"|notre service client(?:s)? au|composez|numero (?:vert|de telephone|indigo|surtaxe)"
    r"|veuillez (?:utiliser|remplir|passer par)|formulaire|espace client|rubrique contact|chat en ligne"
    r"|via (?:notre|l'|le|la) (?:site|application|appli|espace|chat|messagerie|formulaire)"
    r"|cette adresse (?:n'est|e-?mail n'est) (?:pas|plus)|ne (?:traitons|traite) pas les demandes par"
    r"|please (?:call|use|fill|visit|contact us (?:via|through|by phone|on))|call (?:us|our)|contact form|customer (?:area|portal|account)"
    r"|web form|live chat|this (?:mailbox|address) is not monitored|we (?:do not|don't) (?:handle|process|answer) .{0,30}e-?mail"
)
_FILLER = re.compile(
    r"^(?:bonjour|bonsoir|madame|monsieur|cher|chere|hello|hi|dear|merci|thank|cordialement|bien a vous|regards|best|kind regards)\b"
)


def _auto_headers(headers: dict[str, str]) -> str:
    """Give back the name of the header that marks a message as automatic, or ""."""
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-autogenerated"):
        if name in headers:
            return name
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if (
        headers.get("x-auto-response-suppress")
        and "x-ms-exchange-generated-message-source" in headers
    ):
        return "Exchange generated message"
    return ""


def _bounce(msg: ParsedMessage) -> Classification | None:
    report = (
        msg.content_type == "multipart/report"
        and bool(msg.delivery_status)
        or any("status" in block for block in msg.delivery_status)
    )
    sender = bool(_BOUNCE_SENDER.match(msg.from_address))
    # A bounce subject alone proves little (a brand may keep "Undelivered parcel" as subject).
    subject = bool(_BOUNCE_SUBJECT.search(_fold(msg.subject))) and bool(
        _BOUNCE_BODY.search(_fold(msg.text)) or msg.headers.get("x-failed-recipients")
    )
    if not (report or sender or subject):
        return None
    failed: list[str] = []
    diagnostic = ""
    statuses: list[str] = []
    for block in msg.delivery_status:
        status = block.get("status", "")
        recipient = block.get("final-recipient") or block.get("original-recipient") or ""
        if status:
            statuses.append(status)
        if recipient and (status.startswith("5") or block.get("action", "").lower() == "failed"):
            failed.append(recipient.split(";", 1)[-1].strip().strip("<>").lower())
        diagnostic = diagnostic or block.get("diagnostic-code", "").split(";", 1)[-1].strip()
    folded = msg.text
    if not statuses:
        statuses = [".".join(m) for m in _STATUS.findall(folded)]
    if not failed and msg.headers.get("x-failed-recipients"):
        failed = [a.lower() for a in _ADDRESS.findall(msg.headers["x-failed-recipients"])]
    if not failed:
        own = {msg.from_address, *msg.to}
        for line in folded.splitlines():
            if (
                _STATUS.search(line)
                or _SMTP_CODE.search(line)
                or re.match(r"^\s*<?[^\s@<>]+@[^\s@<>]+>?\s*:?\s*$", line)
            ):
                for addr in _ADDRESS.findall(line):
                    if addr.lower() not in own and addr.lower() not in failed:
                        failed.append(addr.lower())
    if not diagnostic:
        for line in folded.splitlines():
            if _STATUS.search(line) or _SMTP_CODE.search(line):
                diagnostic = line.strip()
                break
    if statuses and all(s.startswith("4") for s in statuses) and not sender and not subject:
        return None
    if statuses and all(s.startswith(("2", "4")) for s in statuses):
        # A delay warning or a success notice: automatic, but the message may still arrive.
        return Classification(
            ReplyKind.AUTO_ACK, f"delivery status notification ({statuses[0]}), not final"
        )
    why = (
        "delivery-status report"
        if report
        else "mailer-daemon sender"
        if sender
        else "bounce subject"
    )
    return Classification(
        ReplyKind.BOUNCE, why, failed_recipients=failed, bounce_diagnostic=diagnostic[:500]
    )


def _sentences(text: str) -> list[str]:
    """Give back the folded sentences of a text that carry content (greetings/closings dropped)."""
    sentences = [_fold(s).strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*\n", text) if s.strip()]
    # "Bonjour," / "Cordialement," / "Thank you for your patience." are not content.
    return [s for s in sentences if not (_FILLER.match(s) and len(s.split()) <= 6) and len(s) > 3]


def _words(sentences: list[str]) -> int:
    return sum(len(s.split()) for s in sentences)


def _redirect(content: list[str], text: str) -> tuple[bool, str]:
    """Say whether the text mostly sends the customer elsewhere, and where to."""
    redirecting = [s for s in content if _REDIRECT.search(s) or _PREMIUM.search(s)]
    if not redirecting:
        return False, ""
    target = ""
    phones = _PHONE.findall(text)
    premium = [p for p in phones if _PREMIUM.match(p)]
    if premium or phones:
        target = re.sub(r"\s+", " ", (premium or phones)[0]).strip()
    else:
        urls = _URL.findall(text)
        target = urls[0].rstrip(".,;") if urls else ""
    words = _words(content)
    share = _words(redirecting) / max(words, 1)
    return share >= 0.4 or words <= 40, target


# Below this many words of content besides acknowledgement sentences, a message only acknowledges.
ACK_REST_WORDS = 25
# Out-of-office notices are short; "on leave" inside a long answer is not one.
OOF_MAX_WORDS = 120
OOF_WEAK_MAX_WORDS = 40


def _text_kind(
    text: str,
    subject: str,
    auto_header: str,
    sent_at: datetime | None,
    received_at: datetime | None,
) -> Classification:
    folded_subject = _fold(subject)
    content = _sentences(text)
    words = _words(content)
    strong = any(_OOF_WORDING.search(s) for s in content)
    weak = any(_OOF_WEAK.search(s) for s in content)
    oof_subject = bool(_OOF_SUBJECT.match(folded_subject))
    # Absence wording inside a long answer ("je serai de retour le...") is not an OOF notice.
    if (strong and (words < OOF_MAX_WORDS or auto_header or oof_subject)) or (
        weak and (words < OOF_WEAK_MAX_WORDS or oof_subject)
    ):
        return Classification(ReplyKind.OUT_OF_OFFICE, "out-of-office wording")
    if _OOF_SUBJECT.match(folded_subject) and _OOF_WORDING.search(folded_subject):
        return Classification(ReplyKind.OUT_OF_OFFICE, "out-of-office subject")
    ack = [s for s in content if _ACK_WORDING.search(s)]
    rest = words - _words(ack)
    # "Nous avons bien reçu votre demande" also opens many human answers: only a message with
    # little else than acknowledgement sentences is an acknowledgement.
    if (ack and rest < ACK_REST_WORDS) or (_ACK_SUBJECT.search(folded_subject) and rest < 40):
        reason = "acknowledgement wording" + (f" and {auto_header}" if auto_header else "")
        return Classification(ReplyKind.AUTO_ACK, reason)
    if sent_at is not None and received_at is not None and received_at - sent_at < INSTANT_REPLY:
        return Classification(
            ReplyKind.AUTO_ACK,
            f"arrived {int((received_at - sent_at).total_seconds())} s after sending",
        )
    if auto_header and rest < ACK_REST_WORDS:
        return Classification(ReplyKind.AUTO_ACK, f"{auto_header} and a short text")
    redirect, target = _redirect(content, text)
    if redirect:
        return Classification(
            ReplyKind.REDIRECT, "text sends the customer to another channel", redirect_to=target
        )
    reason = "substantive text" + (
        f" despite {auto_header} (helpdesk notification)" if auto_header else ""
    )
    return Classification(ReplyKind.ANSWER, reason)


def classify(
    msg: ParsedMessage, *, sent_at: datetime | None = None, received_at: datetime | None = None
) -> Classification:
    """Give back the Classification of a parsed e-mail (headers, wording and timing combined)."""
    text = msg.reply_text or msg.text
    result = _bounce(msg)
    if result is None:
        auto = _auto_headers(msg.headers)
        exchange_oof = bool(msg.headers.get("x-auto-response-suppress")) and bool(
            msg.headers.get("auto-submitted", "").lower().startswith("auto-")
        )
        result = _text_kind(text, msg.subject, auto, sent_at, received_at)
        if (
            result.kind is ReplyKind.AUTO_ACK
            and exchange_oof
            and _OOF_SUBJECT.match(_fold(msg.subject))
            and not _ACK_WORDING.search(_fold(text))
        ):
            result = Classification(ReplyKind.OUT_OF_OFFICE, "Exchange automatic reply headers")
    result.ticket_ref = extract_ticket_ref(msg.subject, msg.text) or ""
    result.language = detect_language(text)
    return result


def classify_text(
    text: str,
    *,
    subject: str = "",
    sent_at: datetime | None = None,
    received_at: datetime | None = None,
) -> Classification:
    """Give back the Classification of a headerless reply (X, Facebook, assisted entry)."""
    reply, _signature, _quoted = split_reply(text)
    result = _text_kind(reply or text, subject, "", sent_at, received_at)
    result.ticket_ref = extract_ticket_ref(subject, text) or ""
    result.language = detect_language(reply or text)
    return result


_PREFIX = re.compile(
    r"^(?:re|fw|fwd|tr|aw|wg|sv|vs|antw|ref|rif|r|rep|reponse|odp|automatic reply|reponse automatique"
    r"|(?:ticket|request|demande|case) (?:received|recue?|created|creee?|updated|mise a jour))"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:-]\s*"
)
# Ticket tags anywhere: "[Ticket #4821]", "[Brand A]", "(Ticket 8812)", "Réf. : 12345-ABC".
_TAGS = re.compile(
    r"\[[^\]]{0,60}\]"
    r"|\((?:ticket|case|ref|request|demande|dossier)[^)]{0,30}\)"
    r"|\b(?:ref(?:erence)?|ticket|case|request|demande|dossier|reclamation|incident)\.?"
    r"\s*(?:n°|no\b\.?|nr\b|#|:|\s)\s*:?\s*#?\s*[\w-]*\d[\w-]*"
)
_EDGE = re.compile(r"^[\s\-–—:|,.!?;]+|[\s\-–—:|,.!?;]+$")


def normalise_subject(subject: str) -> str:
    """Give back a subject without reply/forward prefixes and ticket tags, folded for comparison."""
    text = _TAGS.sub(" ", _fold(subject or ""))
    text = re.sub(r"\s+", " ", text)
    previous = None
    while previous != text:
        previous = text
        text = _EDGE.sub("", text)
        text = _PREFIX.sub("", text)
    return text


_REF_PATTERNS = [
    re.compile(
        r"\[\s*(?:ticket|case|request|demande|dossier|incident|ref)?\s*(?:#|n°|:)\s*([A-Z0-9][\w-]{2,})\s*\]",
        re.I,
    ),
    re.compile(
        r"\b(?:ticket|request|case|demande|dossier|incident|r[ée]clamation|requ[êe]te)"
        r"\s*(?:n[°º]|no\.?|num[ée]ro|number|#|:)\s*:?\s*#?\s*([A-Z0-9][\w-]{2,})",
        re.I,
    ),
    re.compile(
        r"\bR[ée]f(?:[ée]rence)?\s*\.?\s*(?:n[°º]\s*)?:?\s*#?\s*([A-Z0-9]*\d[\w-]{2,})", re.I
    ),
    re.compile(r"\b(?:case|ticket|request)\s+#?\s*(\d{3,})\b", re.I),
    re.compile(r"\b(?:ticket|request|demande|case|dossier)\s*\(\s*#?\s*(\d{3,})\s*\)", re.I),
    re.compile(r"(?:^|[\s(])#(\d{4,})\b"),
]


def extract_ticket_ref(subject: str, text: str) -> str | None:
    """Give back the brand's ticket reference from a subject or body, or None."""
    for source in (subject or "", (text or "")[:5000]):
        source = source.replace("\u00a0", " ").replace("\u202f", " ")
        for pattern in _REF_PATTERNS:
            found = pattern.search(source)
            if found:
                return found.group(1).strip("-")
    return None
