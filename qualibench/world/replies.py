"""What a simulated brand writes back: acknowledgements, answers, out-of-office notices, DSNs.

Answers come from the agents' phrase book (world/answers.py): for each key point of the
scenario a brand covers, a sentence in its sector's words, sometimes only a vague one; tone
adds or removes the restatement, empathy and courtesy, a helpdesk pastes its template. A
campaign's own scenario, absent from the book, is answered from its key points' phrases.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from html import escape

from .answers import BOOK, FRAMES, SECTOR_WORDS, TWEETS
from .brands import SimBrand

_ORDER_RE = re.compile(r"\b[A-Z]{2,5}-\d{4,}\b")

TEXTS = {
    "fr": {
        "hello": "Bonjour {name},",
        "thanks": "Merci d'avoir contacté le service client de {brand}.",
        "reformulate": "Si je comprends bien, vous nous écrivez au sujet de : « {topic} ».",
        "empathy": "Je suis vraiment désolé(e) pour ce désagrément et je comprends votre agacement.",
        "cold": "Votre demande a été traitée.",
        "point": "{label} : {phrase}, je vous le confirme après vérification de votre dossier{ref}.",
        "offtopic": "Découvrez nos nouvelles offres de la saison sur notre site, avec -20 % sur une sélection !",
        "closing": "Je reste à votre disposition pour toute autre question.",
        "bye": "Bien cordialement,",
        "agent": "{agent}, service client {brand}",
        "ack_subject": "Accusé de réception : {subject}",
        "ack": "Ceci est un message automatique. Nous avons bien reçu votre demande et vous répondrons "
               "dans les meilleurs délais. Merci de ne pas répondre à ce message.",
        "ooo_subject": "Réponse automatique : absent du bureau",
        "ooo": "Je suis absent(e) du bureau jusqu'à lundi prochain. Votre message sera traité à mon retour.",
        "ticket": "Votre demande porte la référence {ticket}.",
        "re": "RE: ",
    },
    "en": {
        "hello": "Dear {name},",
        "thanks": "Thank you for contacting {brand} customer service.",
        "reformulate": "If I understand correctly, you are writing to us about: \"{topic}\".",
        "empathy": "I am truly sorry for the inconvenience and I understand your frustration.",
        "cold": "Your request has been processed.",
        "point": "{label}: {phrase}, I can confirm this after checking your file{ref}.",
        "offtopic": "Discover our new seasonal offers on our website, with 20% off a selection!",
        "closing": "Please do not hesitate to contact us if you have any other question.",
        "bye": "Kind regards,",
        "agent": "{agent}, {brand} customer service",
        "ack_subject": "Acknowledgement: {subject}",
        "ack": "This is an automatic message. We have received your request and will reply as soon as "
               "possible. Please do not reply to this message.",
        "ooo_subject": "Automatic reply: out of office",
        "ooo": "I am out of the office until next Monday. Your message will be handled on my return.",
        "ticket": "Your request reference is {ticket}.",
        "re": "RE: ",
    },
}
_AGENTS = ("Camille", "Sophie", "Nicolas", "Léa", "Thomas", "Julie", "Karim", "Emma")


@dataclass(frozen=True)
class Incoming:
    """A probe as the brand received it (what its agent reads)."""

    brand: SimBrand
    mail_from: str
    reply_to: str
    from_name: str
    subject: str
    body: str
    message_id: str
    references: str
    received_at: datetime
    channel: str = "email"


def _points_text(lang: str, key_points: list[dict], coverage: float, rng: random.Random,
                 ref: str) -> list[str]:
    if not key_points:
        return []
    n = round(coverage * len(key_points))
    chosen = rng.sample(key_points, k=min(n, len(key_points)))
    chosen.sort(key=lambda kp: key_points.index(kp))
    lines = []
    for kp in chosen:
        patterns = kp.get("patterns") or [kp.get("label", "")]
        phrase = rng.choice(list(patterns))
        label = str(kp.get("label", kp.get("id", ""))).split("(")[0].strip()
        lines.append(TEXTS[lang]["point"].format(label=label, phrase=phrase,
                                                 ref=f" ({ref})" if ref else ""))
    return lines


class _Words(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _book(key_points: list[dict]) -> dict | None:
    ids = {kp.get("id") for kp in key_points}
    return next((b for b in BOOK.values() if ids and ids <= set(b["points"])), None)


def _words(inc: Incoming, lang: str) -> _Words:
    sector = SECTOR_WORDS[lang].get(inc.brand.sector) or SECTOR_WORDS[lang]["retail"]
    amounts = re.findall(r"(\d+[,.]\d{2})\s*(?:euros|€)", inc.body)
    w = _Words(sector)
    w.update(brand=inc.brand.name, amount=f"{amounts[0]} €" if amounts else "ce mois-ci")
    for k, v in list(w.items()):
        w[k] = v.replace("{brand}", inc.brand.name)
    return w


def _vague_share(p) -> float:  # type: ignore[no-untyped-def]
    """Return how often this brand's agents touch a point without settling it."""
    if p.coverage < 0.5:
        return 0.55
    return 0.3 if p.tone in ("cold", "off_topic") else 0.12


def answer_text(inc: Incoming, lang: str, key_points: list[dict], rng: random.Random,
                ticket: str = "") -> str:
    """Return the plain-text answer a brand of this personality writes to `inc`."""
    book = _book(key_points)
    if book is None:
        return _answer_from_patterns(inc, lang, key_points, rng, ticket)
    fr, p, w = FRAMES[lang], inc.brand.personality, _words(inc, lang)
    first = inc.from_name.split()[0] if inc.from_name else ""
    pick = lambda key: rng.choice(fr[key]).format_map(w | {"name": first})  # noqa: E731
    lines = [pick("hello") if p.tone != "cold" else fr["hello"][-1], ""]
    if p.tone != "cold":
        lines.append(pick("thanks"))
    restate = {"empathetic": 0.8, "neutral": 0.35}.get(p.tone, 0.1)
    if rng.random() < restate:
        lines.append(rng.choice(book["restate"]).format_map(w))
    if p.tone == "empathetic" or (p.tone == "neutral" and rng.random() < 0.3):
        lines.append(pick("empathy"))
    if ticket:
        lines.append(TEXTS[lang]["ticket"].format(ticket=ticket))
    lines.append("")
    coverage = p.coverage if p.tone != "off_topic" else p.coverage / 2
    coverage = min(1.0, max(0.0, coverage + rng.uniform(-0.2, 0.2)))  # agents vary around the habit
    n = round(coverage * len(key_points))
    chosen = sorted(rng.sample(range(len(key_points)), k=min(n, len(key_points))))
    vague = _vague_share(p)
    body = []
    for i in chosen:
        entry = book["points"][key_points[i]["id"]]
        kind = "vague" if rng.random() < vague else "full"
        body.append(rng.choice(entry[kind]).format_map(w))
    if p.helpdesk:
        body.append(rng.choice(fr["template"]).format_map(w))
    # Agents write paragraphs, not one line per point: two or three sentences a paragraph.
    while body:
        size = rng.choice((1, 2, 2, 3))
        lines.append(" ".join(body[:size]))
        body = body[size:]
    if p.tone == "cold":
        lines.append(rng.choice(fr["cold"]))
    if p.tone == "off_topic":
        lines.append(rng.choice(fr["offtopic"]))
    if lines[-1]:
        lines.append("")
    if p.tone != "cold":
        lines.append(pick("closing"))
        lines += ["", pick("bye"), f"{rng.choice(_AGENTS)}", f"{w['team']} {inc.brand.name}"]
    else:
        lines += ["", fr["bye"][0], f"{w['team']} {inc.brand.name}"]
    return "\n".join(lines)


def _answer_from_patterns(inc: Incoming, lang: str, key_points: list[dict], rng: random.Random,
                          ticket: str = "") -> str:
    """Return an answer to a scenario the phrase book lacks, built from its key points' phrases."""
    t = TEXTS[lang]
    p = inc.brand.personality
    first = inc.from_name.split()[0] if inc.from_name else ""
    m = _ORDER_RE.search(inc.subject + " " + inc.body)
    ref = m.group(0) if m else ""
    lines = [t["hello"].format(name=first if p.tone != "cold" else "").replace(" ,", ","), ""]
    if p.tone != "cold":
        lines.append(t["thanks"].format(brand=inc.brand.name))
    if p.tone == "empathetic":
        lines.append(t["reformulate"].format(topic=inc.subject.strip()))
        lines.append(t["empathy"])
    if ticket:
        lines.append(t["ticket"].format(ticket=ticket))
    lines.append("")
    coverage = p.coverage if p.tone != "off_topic" else p.coverage / 2
    # Each answer varies around the brand's habit, as human agents do.
    coverage = min(1.0, max(0.0, coverage + rng.uniform(-0.2, 0.2)))
    lines.extend(_points_text(lang, key_points, coverage, rng, ref))
    if p.tone == "cold":
        lines.append(t["cold"])
    if p.tone == "off_topic":
        lines.append(t["offtopic"])
    lines.append("")
    if p.tone != "cold":
        lines.append(t["closing"])
    lines += ["", t["bye"], t["agent"].format(agent=rng.choice(_AGENTS), brand=inc.brand.name)]
    return "\n".join(lines)


def _quote(inc: Incoming) -> str:
    quoted = "\n".join("> " + line for line in inc.body.splitlines())
    return f"\n\n-----Original message-----\n{quoted}\n"


def build_reply(inc: Incoming, *, kind: str, lang: str, when: datetime, text: str = "",
                ticket: str = "", domain: str | None = None) -> bytes:
    """Return the RFC 5322 bytes of a brand's reply of `kind` ("ack", "answer", "ooo")."""
    brand = inc.brand
    p = brand.personality
    t = TEXTS[lang]
    msg = EmailMessage()
    dom = domain or brand.domain
    if kind == "ack":
        sender = f"noreply@{dom}"
        subject = t["ack_subject"].format(subject=inc.subject)
        text = t["ack"] + ("\n" + t["ticket"].format(ticket=ticket) if ticket else "")
        msg["Auto-Submitted"] = "auto-replied"
    elif kind == "ooo":
        sender = brand.email
        subject = t["ooo_subject"]
        text = t["ooo"]
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Autoreply"] = "yes"
    else:
        sender = f"{brand.name} <service-client@{brand.reply_domain}>"
        subject = t["re"] + inc.subject
        text = text + _quote(inc)
    if ticket and kind != "ooo":
        subject = f"[Ticket #{ticket}] {subject}"
    msg["From"] = sender
    msg["To"] = inc.reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when.astimezone(brand.tz))
    msg["Message-ID"] = make_msgid(domain=dom)
    if inc.message_id:
        msg["In-Reply-To"] = inc.message_id
        if not p.helpdesk:  # the helpdesk threads by its ticket number and drops References
            msg["References"] = (inc.references + " " + inc.message_id).strip()
    charset = p.charset if p.charset != "utf-8" else "utf-8"
    if p.html_only and kind == "answer":
        paras = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())
        html = (f"<html><body style=\"font-family:Arial\"><table><tr><td>{paras}</td></tr></table>"
                f"<img src=\"https://{dom}/pixel.gif\" alt=\"\"></body></html>")
        msg.set_content(html, subtype="html", charset=charset)
    else:
        if charset == "windows-1252":
            # Characters windows-1252 lacks would make the real legacy systems fail too.
            text = text.encode("cp1252", "replace").decode("cp1252")
        msg.set_content(text, charset=charset)
    return bytes(msg)


def build_dsn(inc: Incoming, original: bytes, when: datetime, reporting: str) -> bytes:
    """Return a delivery status notification (RFC 3464) for a probe sent to an unknown user."""
    rcpt = inc.brand.email
    boundary = "dsn-" + make_msgid(domain="b").strip("<>").split("@")[0]
    headers = original.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace")
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{reporting}>\n"
        f"To: {parseaddr(inc.mail_from)[1]}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"Date: {format_datetime(when)}\n"
        f"Message-ID: {make_msgid(domain=reporting)}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\n"
        "\n"
        f"--{boundary}\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        f"This is the mail system at host {reporting}.\n\n"
        "I'm sorry to have to inform you that your message could not be delivered to one or more\n"
        f"recipients.\n\n<{rcpt}>: host mx.{inc.brand.domain} said: 550 5.1.1 <{rcpt}>:\n"
        "    Recipient address rejected: User unknown in virtual mailbox table\n\n"
        f"--{boundary}\n"
        "Content-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; {reporting}\n\n"
        f"Final-Recipient: rfc822; {rcpt}\n"
        "Action: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\n\n"
        f"--{boundary}\n"
        "Content-Type: text/rfc822-headers\n\n"
        f"{headers}\n\n"
        f"--{boundary}--\n"
    )
    return text.replace("\n", "\r\n").encode("utf-8")


def short_answer(inc: Incoming, lang: str, key_points: list[dict], rng: random.Random) -> str:
    """Return a public reply of at most 280 characters (X), as a community manager posts it."""
    p = inc.brand.personality
    book = _book(key_points)
    t, w = TWEETS[lang], _words(inc, lang)
    first = inc.from_name.split()[0] if inc.from_name else ""
    agent = rng.choice(_AGENTS)
    parts = [rng.choice(t["open"]).format(name=first).replace(" !", "\u00a0!").strip()]
    if p.tone in ("empathetic", "neutral") and rng.random() < 0.7:
        parts.append(rng.choice(t["sorry"]))
    n = round(min(1.0, max(0.0, p.coverage + rng.uniform(-0.2, 0.2))) * len(key_points))
    for kp in rng.sample(key_points, k=min(n, len(key_points), 2)):
        if book is not None:
            entry = book["points"][kp["id"]]
            options = sorted(entry["full" if rng.random() >= _vague_share(p) else "vague"], key=len)
            parts.append(options[0].format_map(w))
        else:
            parts.append(f"{rng.choice(list(kp.get('patterns') or [kp.get('label', '')])).capitalize()}.")
    parts.append(rng.choice(t["dm"]))
    sign = rng.choice(t["sign"]).format(initials="".join(x[0] for x in agent.split()).upper() + agent[1].upper(),
                                        first=agent)
    text = " ".join(x for x in [*parts, sign] if x)
    while len(text) > 280 and len(parts) > 2:  # drop content before the greeting and the hand-off
        parts.pop(-2)
        text = " ".join(x for x in [*parts, sign] if x)
    return text[:280]
