"""Which probe an inbound message answers: four keys tried in order, each with its confidence.

1. the probe's own reply address in To / Cc / Delivered-To / X-Original-To (certain);
2. our Message-ID in In-Reply-To / References, or returned inside a bounce (near certain);
3. the brand's ticket reference, learnt from its acknowledgement (high);
4. the sender's domain + the normalised subject + the probe's time window (low: the reply is
   recorded but queued for an analyst's review).
Nothing is dropped: a message no key finds is left UNMATCHED for `qualibench inbox`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlmodel import Session, col, select

from .models import Brand, MatchMethod, Probe, ProbeState

CONFIDENCE = {
    MatchMethod.REPLY_ADDRESS: 1.0,
    MatchMethod.MESSAGE_ID: 0.98,
    MatchMethod.TICKET_REF: 0.9,
    MatchMethod.SUBJECT_WINDOW: 0.4,
}
# States in which a probe can receive a reply (planned / dispatching ones were never sent).
_REPLYABLE = (ProbeState.SENT.value, ProbeState.ANSWERED.value, ProbeState.UNANSWERED.value,
              ProbeState.UNDELIVERABLE.value)
# A reply to the subject-window key may arrive a little after the window (late answers count).
_WINDOW_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class Match:
    """The probe found for a message, how it was found and how sure we are."""

    probe: Probe
    method: MatchMethod
    confidence: float
    needs_review: bool = False


def _ids(values: list[str]) -> list[str]:
    """Return each Message-ID with and without its angle brackets (stored forms vary)."""
    out: list[str] = []
    for v in values:
        v = v.strip()
        if not v:
            continue
        bare = v.strip("<>")
        out.extend([bare, f"<{bare}>"])
    return list(dict.fromkeys(out))


def registrable_domain(host: str) -> str:
    """Return the last two labels of `host` ("support.brand.fr" -> "brand.fr")."""
    parts = [p for p in host.lower().strip(".").split(".") if p]
    if len(parts) >= 3 and len(parts[-2]) <= 3 and len(parts[-1]) == 2:
        return ".".join(parts[-3:])  # co.uk, com.au style
    return ".".join(parts[-2:])


# Contact points whose domain is the brand's own (social networks are shared by every brand).
_OWN_CONTACTS = ("email", "webform", "website", "site", "domains")


def brand_domains(brand: Brand) -> set[str]:
    """Return the domains a brand writes from: its e-mail, web form and web site domains."""
    found: set[str] = set()
    for key, value in (brand.contacts or {}).items():
        if key not in _OWN_CONTACTS:
            continue
        for text in str(value).replace(",", " ").split():
            if "@" in text and not text.startswith("@"):
                found.add(registrable_domain(text.rsplit("@", 1)[1]))
            elif text.startswith(("http://", "https://")):
                host = urlparse(text).hostname or ""
                if host:
                    found.add(registrable_domain(host))
            elif "." in text:
                found.add(registrable_domain(text))
    return found


def _one(session: Session, campaign_id: int, clause: Any) -> Probe | None:
    return session.exec(
        select(Probe).where(Probe.campaign_id == campaign_id, clause).order_by(col(Probe.id)).limit(1)
    ).first()


def match_message(
    session: Session,
    campaign_id: int,
    msg: Any,
    received_at: datetime | None,
    *,
    ticket_ref: str = "",
    returned_message_id: str = "",
) -> Match | None:
    """Return the Match of a parsed message (a ParsedMessage) to a probe, or None.

    `ticket_ref` is the reference the classifier read in the message; `returned_message_id`
    is our Message-ID found inside a bounce.
    """
    addresses = [a.lower() for a in
                 [*msg.to, *msg.cc, *msg.delivered_to, *msg.x_original_to] if a]
    if addresses:
        probe = _one(session, campaign_id, col(Probe.reply_address).in_(list(dict.fromkeys(addresses))))
        if probe is not None:
            return Match(probe, MatchMethod.REPLY_ADDRESS, CONFIDENCE[MatchMethod.REPLY_ADDRESS])

    ids = _ids([*msg.in_reply_to, *msg.references, returned_message_id])
    if ids:
        probe = _one(session, campaign_id, col(Probe.message_id).in_(ids))
        if probe is not None:
            return Match(probe, MatchMethod.MESSAGE_ID, CONFIDENCE[MatchMethod.MESSAGE_ID])

    sender_domain = registrable_domain(msg.from_address.rsplit("@", 1)[1]) \
        if "@" in (msg.from_address or "") else ""
    if ticket_ref:
        probe = _by_ticket(session, campaign_id, ticket_ref, sender_domain)
        if probe is not None:
            return Match(probe, MatchMethod.TICKET_REF, CONFIDENCE[MatchMethod.TICKET_REF])

    if sender_domain and received_at is not None:
        probe = _by_subject_window(session, campaign_id, msg.subject, sender_domain, received_at)
        if probe is not None:
            return Match(probe, MatchMethod.SUBJECT_WINDOW, CONFIDENCE[MatchMethod.SUBJECT_WINDOW],
                         needs_review=True)
    return None


def _by_ticket(session: Session, campaign_id: int, ticket_ref: str, sender_domain: str) -> Probe | None:
    candidates = session.exec(
        select(Probe).where(Probe.campaign_id == campaign_id, Probe.ticket_ref == ticket_ref)
    ).all()
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    # Two brands may both use "#4821": keep the one whose domain wrote this message.
    brands = {b.id: b for b in session.exec(
        select(Brand).where(col(Brand.id).in_({p.brand_id for p in candidates})))}
    same = [p for p in candidates if sender_domain in brand_domains(brands[p.brand_id])]
    return same[0] if len(same) == 1 else None


def _by_subject_window(
    session: Session, campaign_id: int, subject: str, sender_domain: str, received_at: datetime
) -> Probe | None:
    from .mail.classify import normalise_subject

    wanted = normalise_subject(subject or "")
    if not wanted:
        return None
    brands = session.exec(select(Brand).where(Brand.campaign_id == campaign_id)).all()
    brand_ids = [b.id for b in brands if sender_domain in brand_domains(b)]
    if not brand_ids:
        return None
    probes = session.exec(
        select(Probe).where(
            Probe.campaign_id == campaign_id,
            col(Probe.brand_id).in_(brand_ids),
            col(Probe.state).in_(_REPLYABLE),
        )
    ).all()
    fits = [
        p for p in probes
        if p.sent_at is not None and p.sent_at <= received_at
        and (p.window_ends_at is None or received_at <= p.window_ends_at + _WINDOW_GRACE)
        and normalise_subject(p.subject) == wanted
    ]
    # Several probes of one brand with the same subject: the latest sent before the reply.
    fits.sort(key=lambda p: p.sent_at)  # type: ignore[arg-type,return-value]
    return fits[-1] if fits else None
