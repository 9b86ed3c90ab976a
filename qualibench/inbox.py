"""The analyst's inbox: messages no key could place, to assign to a probe or dismiss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from .errors import NotFound, StateError
from .events import log_event
from .models import InboundMessage, InboundStatus, MatchMethod, Probe, Reply, ReplyKind
from .workspace import Workspace

# An analyst may place a message the parser could not read, too (its raw bytes are kept).
_ASSIGNABLE = (InboundStatus.UNMATCHED.value, InboundStatus.UNPARSEABLE.value,
               InboundStatus.PENDING.value, InboundStatus.DISMISSED.value)


@dataclass(frozen=True)
class InboxItem:
    """One message waiting for an analyst."""

    id: int
    status: str
    received_at: datetime | None
    from_address: str
    subject: str
    source: str
    size: int
    parse_error: str | None
    note: str

    def as_dict(self) -> dict:
        return {**self.__dict__, "received_at": self.received_at.isoformat() if self.received_at else None}


def list_inbox(ws: Workspace, *, include_dismissed: bool = False,
               include_unparseable: bool = True) -> list[InboxItem]:
    """Return the messages waiting in the inbox, oldest first."""
    statuses = [InboundStatus.UNMATCHED.value]
    if include_unparseable:
        statuses.append(InboundStatus.UNPARSEABLE.value)
    if include_dismissed:
        statuses.append(InboundStatus.DISMISSED.value)
    with ws.session() as session:
        campaign = ws.campaign(session)
        rows = session.exec(
            select(InboundMessage).where(
                InboundMessage.campaign_id == campaign.id, col(InboundMessage.status).in_(statuses)
            ).order_by(col(InboundMessage.received_at), col(InboundMessage.id))
        ).all()
        return [
            InboxItem(id=r.id or 0, status=r.status, received_at=r.received_at,
                      from_address=r.from_address, subject=r.subject, source=r.source,
                      size=r.size, parse_error=r.parse_error, note=r.note)
            for r in rows
        ]


def _inbound(session: Session, campaign_id: int, inbound_id: int) -> InboundMessage:
    row = session.get(InboundMessage, inbound_id)
    if row is None or row.campaign_id != campaign_id:
        raise NotFound(f"no inbound message #{inbound_id} in this campaign",
                       "`qualibench inbox list` shows the ids of the waiting messages")
    return row


def _probe(session: Session, campaign_id: int, probe_ref: int | str) -> Probe:
    ref = str(probe_ref).strip()
    clause = Probe.id == int(ref) if ref.isdigit() else Probe.key == ref
    probe = session.exec(select(Probe).where(Probe.campaign_id == campaign_id, clause)).first()
    if probe is None:
        raise NotFound(f"no probe {ref!r} in this campaign",
                       "give the probe's id or key as `qualibench status --json` lists them")
    return probe


def assign(ws: Workspace, inbound_id: int, probe_id: int | str, analyst: str, *,
           kind: ReplyKind | str | None = None) -> Reply:
    """Return the Reply made by assigning an inbox message to a probe (logged as an event).

    The kind is the classifier's unless the analyst gives one.
    """
    from .mail.classify import classify, with_request
    from .mail.parse import UnparseableMessage, parse_message
    from .probes import record_reply

    if not analyst.strip():
        raise StateError("an assignment needs the analyst's name", "pass --analyst NAME")
    with ws.session() as session:
        campaign = ws.campaign(session)
        assert campaign.id is not None
        inbound = _inbound(session, campaign.id, inbound_id)
        if inbound.status not in _ASSIGNABLE:
            raise StateError(f"message #{inbound_id} is already {inbound.status}",
                             "only unmatched, unparseable or dismissed messages can be assigned")
        probe = _probe(session, campaign.id, probe_id)
        received_at = inbound.received_at or inbound.collected_at or ws.clock.now()
        text, signature, redirect_to, ticket_ref, found_kind = "", "", "", "", ReplyKind.ANSWER
        notice = ""
        try:
            msg = parse_message(ws.evidence.get(inbound.sha256))
            in_order = probe.sent_at is not None and probe.sent_at <= received_at
            cls = classify(msg, sent_at=probe.sent_at if in_order else None, received_at=received_at)
            text, signature = msg.reply_text or msg.text, msg.signature
            # known now, the request tells a template's lines beside an acknowledgement (as collect does)
            cls = with_request(cls, probe.body, text, subject=msg.subject, headers=msg.headers, signature=signature)
            redirect_to, ticket_ref, found_kind = cls.redirect_to or "", cls.ticket_ref or "", cls.kind
            notice = cls.notice
        except UnparseableMessage:
            pass  # the analyst read the raw bytes; the text stays empty
        chosen = ReplyKind(kind) if kind else ReplyKind(found_kind)
        inbound.note = f"assigned by {analyst}"
        reply = record_reply(
            session, probe, inbound, kind=chosen, text=text, received_at=received_at,
            method=MatchMethod.MANUAL, confidence=1.0, clock=ws.clock, signature=signature,
            redirect_to=redirect_to, ticket_ref=ticket_ref,
            notice=notice if chosen is found_kind else "",
        )
        log_event(session, campaign.id, "inbox.assigned", f"inbound:{inbound.id}",
                  {"probe": probe.id, "analyst": analyst, "kind": chosen.value,
                   "reply": reply.id}, ws.clock)
        return reply


def dismiss(ws: Workspace, inbound_id: int, analyst: str, why: str) -> InboundMessage:
    """Return the message marked dismissed (spam, newsletter...), with who and why logged."""
    if not analyst.strip() or not why.strip():
        raise StateError("dismissing needs the analyst's name and a reason",
                         "pass --analyst NAME --why \"newsletter\"")
    with ws.session() as session:
        campaign = ws.campaign(session)
        assert campaign.id is not None
        inbound = _inbound(session, campaign.id, inbound_id)
        if inbound.status == InboundStatus.MATCHED.value:
            raise StateError(f"message #{inbound_id} is a recorded reply, not an inbox item",
                             "only unmatched or unparseable messages can be dismissed")
        inbound.status = InboundStatus.DISMISSED.value
        inbound.note = f"dismissed by {analyst}: {why}"
        session.add(inbound)
        log_event(session, campaign.id, "inbox.dismissed", f"inbound:{inbound.id}",
                  {"analyst": analyst, "why": why}, ws.clock)
        return inbound
