"""Which probe an inbound message answers: four keys tried in order, each with its confidence.

1. the probe's own reply address in To / Cc / Delivered-To / X-Original-To (certain);
2. our Message-ID in In-Reply-To / References, or returned inside a bounce (near certain);
3. the brand's ticket reference, learnt from its acknowledgement (high);
4. the sender's domain + the normalised subject + the probe's time window (low: the reply is
   recorded but queued for an analyst's review).
Nothing is dropped: a message no key finds is left UNMATCHED for `qualibench inbox`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import case, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .domains import registrable_domain
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


# Contact points whose domain is the brand's own (social networks are shared by every brand).
_OWN_CONTACTS = ("email", "webform", "website", "site", "domains")


def brand_domains(brand: Brand) -> set[str]:
    """Return the domains a brand writes from: its e-mail, web form and web site domains."""
    return contact_domains(brand.contacts)


def contact_domains(contacts: dict | None) -> set[str]:
    """Return the domains of a brand's own contact points (see brand_domains)."""
    found: set[str] = set()
    for key, value in (contacts or {}).items():
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


@dataclass
class _ProbeKeys:
    """What matching needs of one probe, as plain data (no ORM object per lookup)."""

    id: int
    brand_id: int
    state: str
    sent_at: datetime | None
    window_ends_at: datetime | None
    subject: str  # normalised


class ProbeIndex:
    """A campaign's correlation keys in memory: one load, then dictionary lookups per message.

    Tickets learnt while a batch is recorded (an acknowledgement carrying "#48213") are added
    with `learn_ticket`, so the answer that follows in the same batch finds its probe.
    """

    def __init__(self, probes: list[_ProbeKeys], reply_addresses: dict[str, int],
                 message_ids: dict[str, int], tickets: dict[str, list[int]],
                 contacts: dict[int, dict]) -> None:
        self.probes = {p.id: p for p in probes}
        self.reply_addresses = reply_addresses
        self.message_ids = message_ids
        self.tickets = tickets
        self.by_subject: dict[tuple[int, str], list[_ProbeKeys]] = {}
        for p in probes:
            if p.subject:
                self.by_subject.setdefault((p.brand_id, p.subject), []).append(p)
        self.stamp: tuple = ()  # what `cached` compares to reuse this index (see _stamp)
        self.learnt = False  # tickets learnt in memory, maybe in a transaction rolled back since
        self._set_contacts(contacts)

    def _set_contacts(self, contacts: dict[int, dict]) -> None:
        self.contacts = contacts  # brand id -> its contact points
        self._domains: dict[int, set[str]] | None = None
        self._by_domain: dict[str, set[int]] = {}

    @property
    def brand_domains(self) -> dict[int, set[str]]:
        """Brand id -> the domains it writes from, read from the contacts when first needed
        (only the ticket and subject keys need them, and the public suffix list they use
        costs a noticeable part of a collect to load)."""
        if self._domains is None:
            self._domains = {i: contact_domains(c) for i, c in self.contacts.items()}
            self._by_domain = {}
            for brand_id, domains in self._domains.items():
                for d in domains:
                    self._by_domain.setdefault(d, set()).add(brand_id)
        return self._domains

    @property
    def brands_by_domain(self) -> dict[str, set[int]]:
        self.brand_domains  # noqa: B018  (builds both maps)
        return self._by_domain

    @classmethod
    def cached(cls, session: Session, campaign_id: int) -> ProbeIndex:
        """Return the campaign's index, built once per database and campaign and then kept
        up to date instead of rebuilt (two small queries to tell what changed).

        A probe planned since: rebuilt (a probe's keys -- reply address, Message-ID, subject,
        brand -- never change once it exists). Probes sent, answered or given a ticket since
        (by a send run, another collector, an analyst): their state, times and tickets are read
        again. Brands whose contacts changed: their domains are read again. So a demo's many
        collect passes and every batch of a large collect share one index.
        """
        bind = session.get_bind()
        if not isinstance(bind, Engine):
            return cls.load(session, campaign_id)
        held = _INDEXES.setdefault(bind, {})
        stamp = _stamp(session, campaign_id)
        contacts = _brand_contacts(session, campaign_id)
        index = held.get(campaign_id)
        if index is None or index.stamp[:2] != stamp[:2]:
            index = held[campaign_id] = cls._build(session, campaign_id, contacts)
            index.stamp = stamp
            return index
        if contacts != index.contacts:
            index._set_contacts(contacts)
        if index.learnt or index.stamp != stamp:
            index._refresh(session, campaign_id, stamp)
        return index

    def _refresh(self, session: Session, campaign_id: int, stamp: tuple) -> None:
        """Read again what changes once a probe exists: state, send time, window, ticket."""
        tickets: dict[str, list[int]] = {}
        for pid, state, sent_at, window_ends_at, ticket in session.execute(select(
                Probe.id, Probe.state, Probe.sent_at, Probe.window_ends_at, Probe.ticket_ref,
        ).where(Probe.campaign_id == campaign_id).order_by(col(Probe.id))):
            keys = self.probes.get(pid)
            if keys is not None:
                keys.state, keys.sent_at, keys.window_ends_at = state, sent_at, window_ends_at
            if ticket:
                tickets.setdefault(ticket, []).append(pid)
        self.tickets = tickets
        self.stamp, self.learnt = stamp, False

    @classmethod
    def load(cls, session: Session, campaign_id: int) -> ProbeIndex:
        """Return the index of every probe and brand of the campaign, built afresh."""
        return cls._build(session, campaign_id, _brand_contacts(session, campaign_id))

    @classmethod
    def _build(cls, session: Session, campaign_id: int, contacts: dict[int, dict]) -> ProbeIndex:
        from .mail.classify import normalise_subject

        rows = session.execute(select(
            Probe.id, Probe.brand_id, Probe.state, Probe.sent_at, Probe.window_ends_at,
            Probe.subject, Probe.reply_address, Probe.message_id, Probe.ticket_ref,
        ).where(Probe.campaign_id == campaign_id).order_by(col(Probe.id))).all()
        probes, addresses, message_ids, tickets = [], {}, {}, {}
        for pid, brand_id, state, sent_at, window_ends_at, subject, address, mid, ticket in rows:
            probes.append(_ProbeKeys(pid, brand_id, state, sent_at, window_ends_at,
                                     normalise_subject(subject or "")))
            if address:
                addresses.setdefault(address, pid)
            if mid:
                message_ids.setdefault(mid, pid)
            if ticket:
                tickets.setdefault(ticket, []).append(pid)
        return cls(probes, addresses, message_ids, tickets, contacts)

    def learn_ticket(self, probe_id: int, ticket_ref: str) -> None:
        """Record that `probe_id` now carries `ticket_ref` (learnt from a reply)."""
        self.learnt = True
        holders = self.tickets.setdefault(ticket_ref, [])
        if probe_id not in holders:
            holders.append(probe_id)
            holders.sort()

    def match(self, msg: Any, received_at: datetime | None, *,
              ticket_ref: str | Callable[[], str] = "",
              returned_message_id: str = "") -> tuple[int, MatchMethod, float, bool] | None:
        """Return (probe id, method, confidence, needs review) for a parsed message, or None.

        `ticket_ref` may be a function, called only when the first two keys found nothing.
        """
        addresses = [a.lower() for a in
                     [*msg.to, *msg.cc, *msg.delivered_to, *msg.x_original_to] if a]
        found = [self.reply_addresses[a] for a in addresses if a in self.reply_addresses]
        if found:
            return self._result(min(found), MatchMethod.REPLY_ADDRESS)
        ids = _ids([*msg.in_reply_to, *msg.references, returned_message_id])
        found = [self.message_ids[i] for i in ids if i in self.message_ids]
        if found:
            return self._result(min(found), MatchMethod.MESSAGE_ID)
        sender_domain = registrable_domain(msg.from_address.rsplit("@", 1)[1]) \
            if "@" in (msg.from_address or "") else ""
        if callable(ticket_ref):
            ticket_ref = ticket_ref()
        if ticket_ref:
            probe_id = self._by_ticket(ticket_ref, sender_domain)
            if probe_id is not None:
                return self._result(probe_id, MatchMethod.TICKET_REF)
        if sender_domain and received_at is not None:
            probe_id = self._by_subject_window(msg.subject, sender_domain, received_at)
            if probe_id is not None:
                return self._result(probe_id, MatchMethod.SUBJECT_WINDOW, needs_review=True)
        return None

    @staticmethod
    def _result(probe_id: int, method: MatchMethod,
                needs_review: bool = False) -> tuple[int, MatchMethod, float, bool]:
        return probe_id, method, CONFIDENCE[method], needs_review

    def _by_ticket(self, ticket_ref: str, sender_domain: str) -> int | None:
        candidates = self.tickets.get(ticket_ref, [])
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        # Two brands may both use "#4821": keep the one whose domain wrote this message.
        same = [pid for pid in candidates
                if sender_domain in self.brand_domains.get(self.probes[pid].brand_id, set())]
        return same[0] if len(same) == 1 else None

    def _by_subject_window(self, subject: str, sender_domain: str,
                           received_at: datetime) -> int | None:
        from .mail.classify import normalise_subject

        wanted = normalise_subject(subject or "")
        if not wanted:
            return None
        fits = [
            p for brand_id in self.brands_by_domain.get(sender_domain, ())
            for p in self.by_subject.get((brand_id, wanted), [])
            if p.state in _REPLYABLE and p.sent_at is not None and p.sent_at <= received_at
            and (p.window_ends_at is None or received_at <= p.window_ends_at + _WINDOW_GRACE)
        ]
        # Several probes of one brand with the same subject: the latest sent before the reply.
        fits.sort(key=lambda p: (p.sent_at, p.id))  # type: ignore[arg-type,return-value]
        return fits[-1].id if fits else None


# Indexes kept per database (its engine: gone with it) and campaign; see ProbeIndex.cached.
_INDEXES: weakref.WeakKeyDictionary[Engine, dict[int, ProbeIndex]] = weakref.WeakKeyDictionary()


def _stamp(session: Session, campaign_id: int) -> tuple:
    """Return what tells whether a cached index still holds: first the probes that exist
    (count and highest id: probes are added, never renumbered), then what the subject-window
    and ticket keys read of them (probes sent and replyable, latest send, tickets known: a
    ticket, once set, is never replaced)."""
    replyable = case((col(Probe.state).in_(_REPLYABLE) & col(Probe.sent_at).is_not(None), 1))
    return tuple(session.execute(select(
        func.count(), func.max(Probe.id), func.count(replyable), func.max(Probe.sent_at),
        func.count(Probe.ticket_ref)).where(Probe.campaign_id == campaign_id)).one())


def _brand_contacts(session: Session, campaign_id: int) -> dict[int, dict]:
    return {i: c or {} for i, c in session.execute(
        select(Brand.id, Brand.contacts).where(Brand.campaign_id == campaign_id))}


def match_message(
    session: Session,
    campaign_id: int,
    msg: Any,
    received_at: datetime | None,
    *,
    ticket_ref: str = "",
    returned_message_id: str = "",
    index: ProbeIndex | None = None,
) -> Match | None:
    """Return the Match of a parsed message (a ParsedMessage) to a probe, or None.

    `ticket_ref` is the reference the classifier read in the message; `returned_message_id`
    is our Message-ID found inside a bounce. Pass the campaign's `index` when matching many.
    """
    index = index or ProbeIndex.load(session, campaign_id)
    found = index.match(msg, received_at, ticket_ref=ticket_ref,
                        returned_message_id=returned_message_id)
    if found is None:
        return None
    probe_id, method, confidence, needs_review = found
    probe = session.get(Probe, probe_id)
    assert probe is not None
    return Match(probe, method, confidence, needs_review)
