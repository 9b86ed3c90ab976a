"""Turning collected X items (raw API JSON) into replies: match by thread, classify, record.

A reply to a mention shares its `conversation_id` with our tweet (stored as Probe.external_id);
a DM belongs to the conversation `dm:<dm_conversation_id>` of the probe that opened it, and when
several probes wrote in the same conversation the latest one sent before the DM takes it.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session, col, select

from .mail.bounds import MAX_TEXT_CHARS, cut_text, storable
from .models import InboundMessage, InboundStatus, MatchMethod, Probe, Reply
from .workspace import Workspace

API_CHANNELS = ("x",)


def _scalar(value: object, limit: int = 64) -> str:
    """Return an id field as text when the API gave a string or an integer there, else ''."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value)[:limit]


def _not_an_item(item: object, inbound: InboundMessage) -> str:
    """Return why `item` cannot be read as a post or DM ('' when it can)."""
    if not isinstance(item, dict):
        return f"not an X item: a JSON {type(item).__name__}, not an object"
    if not isinstance(item.get("text"), str):
        return f"not an X item: its text is a {type(item.get('text')).__name__}, not a string"
    if inbound.received_at is None:  # the collector could not read created_at as X's time
        return "not an X item: created_at is not an X time, so the reply cannot be timed"
    return ""


def _dm_probe(session: Session, campaign_id: int, conversation: str, at: datetime) -> tuple[Probe | None, float]:
    rows = list(session.exec(select(Probe).where(
        Probe.campaign_id == campaign_id, Probe.external_id == f"dm:{conversation}",
        col(Probe.sent_at).is_not(None)).order_by(col(Probe.sent_at))))
    before = [p for p in rows if p.sent_at is not None and p.sent_at <= at]
    if not before:
        return None, 0.0
    # Several probes in one DM thread: the latest sent before the answer is the likeliest.
    return before[-1], (1.0 if len(before) == 1 else 0.7)


def match_x_item(session: Session, campaign_id: int, item: dict, at: datetime) -> tuple[Probe | None, float]:
    """Return the probe an X item answers and the confidence of that match (None, 0 if none)."""
    if item.get("dm_conversation_id"):
        return _dm_probe(session, campaign_id, _scalar(item["dm_conversation_id"]), at)
    refs = item.get("referenced_tweets")
    keys = [_scalar(item.get("conversation_id"))]
    keys += [_scalar(r.get("id")) for r in (refs if isinstance(refs, list) else [])
             if isinstance(r, dict) and r.get("type") == "replied_to"]
    for key in filter(None, keys):
        probe = session.exec(select(Probe).where(
            Probe.campaign_id == campaign_id, Probe.external_id == key)).first()
        if probe is not None:
            return probe, 1.0
    return None, 0.0


def process_api_inbound(ws: Workspace, session: Session, inbound: InboundMessage) -> Reply | None:
    """Match, classify and record one stored X item; return its Reply, or None if left aside."""
    from .mail.classify import classify_text
    from .probes import record_reply

    raw = ws.evidence.get(inbound.sha256)
    try:
        item = json.loads(raw)
        problem = _not_an_item(item, inbound)
    except (ValueError, RecursionError) as exc:
        problem = f"not an X item: {type(exc).__name__}"
    if problem:
        inbound.status = InboundStatus.UNPARSEABLE.value
        inbound.parse_error = problem
        session.add(inbound)
        return None
    # What a brand typed, stored as text (NUL and lone surrogates made U+FFFD), and bounded like
    # a mail's text; the raw item stays whole in the evidence store.
    notes: list[str] = []
    text = cut_text(storable(item["text"]), MAX_TEXT_CHARS, "post text", notes)
    if notes:
        inbound.parse_error = "; ".join(notes)
    author = _scalar(item.get("sender_id")) or _scalar(item.get("author_id"))
    inbound.from_address = f"x:{author}"
    inbound.message_id = _scalar(item.get("id"))
    received_at = inbound.received_at or inbound.collected_at or ws.clock.now()
    probe, confidence = match_x_item(session, inbound.campaign_id, item, received_at)
    if probe is None:
        inbound.status = InboundStatus.UNMATCHED.value
        session.add(inbound)
        return None
    # (the request as tweeted: a template's words beside an acknowledgement touch none of it)
    cls = classify_text(text, sent_at=probe.sent_at, received_at=received_at,
                        request=probe.short_text or probe.body)
    return record_reply(
        session, probe, inbound, kind=cls.kind, text=text, received_at=received_at,
        method=MatchMethod.API_THREAD.value, confidence=confidence, clock=ws.clock,
        language=cls.language, redirect_to=cls.redirect_to, ticket_ref=cls.ticket_ref,
        needs_review=confidence < 1.0, notice=cls.notice,
    )
