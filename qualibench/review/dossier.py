"""The evidence behind one reply: highlighted spans, the request, timing, matching, raw message.

Everything here comes from a brand and is hostile: the page escapes it (Jinja autoescape), the
raw HTML goes through nh3 (script, event handlers, javascript: links, styles, meta, base and
images removed) and is served on its own route under `default-src 'none'` into a sandboxed
iframe, so nothing in it runs or fetches anything. Attachments are listed, never opened.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from ..brandmask import BrandMask, brand_mask
from ..errors import NotFound
from ..models import Brand, InboundMessage, Probe, Reply, Scenario, Score
from ..scorer.effective import ADJUDICATOR_PREFIX, AUDITOR_PREFIX, AUTO
from ..timing import brand_calendar
from .coding import Coding

MAX_RAW_TEXT = 200_000
# nh3's defaults minus what could fetch (img) or hide content; links keep only safe schemes.
_URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class Segment:
    """A run of the reply text, highlighted when an automatic point cites it."""

    text: str
    criterion: str = ""
    points: float = 0.0
    why: str = ""


@dataclass(frozen=True)
class Timing:
    """The probe's clock: calendar hours and the brand's business hours (qualibench.hours)."""

    sent_at: datetime | None
    first_ack_at: datetime | None
    first_answer_at: datetime | None
    window_ends_at: datetime | None
    ack_hours: float | None
    answer_hours: float | None
    ack_business_hours: float | None
    answer_business_hours: float | None


def probe_clock(probe: Probe, brand: Brand) -> Timing:
    """Return the delays of `probe` to its first acknowledgement and first answer."""
    calendar = brand_calendar(brand)
    sent = probe.sent_at

    def hours(end: datetime | None) -> float | None:
        return None if sent is None or end is None else max(0.0, (end - sent).total_seconds() / 3600)

    def business(end: datetime | None) -> float | None:
        return None if sent is None or end is None or end < sent else calendar.business_hours(sent, end)

    return Timing(sent, probe.first_ack_at, probe.first_answer_at, probe.window_ends_at,
                  hours(probe.first_ack_at), hours(probe.first_answer_at),
                  business(probe.first_ack_at), business(probe.first_answer_at))


@dataclass
class Dossier:
    reply_id: int
    inbound_id: int
    kind: str
    channel: str
    scenario: str
    subject: str
    request: str
    segments: list[Segment]
    spans: list[dict]
    auto_total: float | None
    auto_criteria: dict[str, float]
    timing: Timing | None
    received_at: datetime | None
    match_method: str
    match_confidence: float
    needs_review: bool
    delay_review: str
    source: str
    from_address: str
    attachments: list[tuple[str, str, int]]
    has_html: bool
    parse_error: str | None
    brand: str | None = None
    codes: list[Score] = field(default_factory=list)  # auditors' and adjudicators' (when allowed)


def highlight(text: str, evidence: dict) -> tuple[list[Segment], list[dict]]:
    """Return `text` cut into plain and cited segments, and the spans in reading order.

    A span whose offsets do not fit the text (scored on another view of it) is found by its words;
    overlapping spans keep the first one.
    """
    spans = []
    for crit, items in (evidence or {}).items():
        for s in items:
            start, end, cited = int(s.get("start", -1)), int(s.get("end", -1)), str(s.get("text", ""))
            if not (0 <= start < end <= len(text) and text[start:end] == cited):
                start = text.find(cited) if cited else -1
                end = start + len(cited)
            spans.append({"criterion": crit, "start": start, "end": end, "text": cited,
                          "points": float(s.get("points", 0)), "why": str(s.get("why", ""))})
    spans.sort(key=lambda s: (s["start"] < 0, s["start"], s["criterion"]))
    segments, pos = [], 0
    for s in spans:
        if s["start"] < pos:
            continue
        if s["start"] > pos:
            segments.append(Segment(text[pos:s["start"]]))
        segments.append(Segment(text[s["start"]:s["end"]], s["criterion"], s["points"], s["why"]))
        pos = s["end"]
    if pos < len(text):
        segments.append(Segment(text[pos:]))
    return segments, spans


def reply_dossier(coding: Coding, reply_id: int, *, show_brand: bool, show_codes: bool) -> Dossier:
    """Return the evidence of `reply_id`; the brand and the human codes only when allowed."""
    ws = coding.ws
    with ws.session() as session:
        cid, version = coding.campaign_id(session), coding.version(session)
        reply = session.get(Reply, reply_id)
        if reply is None or reply.campaign_id != cid:
            raise NotFound(f"reply {reply_id} is not in this campaign", "go back to the queue")
        probe = session.get(Probe, reply.probe_id)
        inbound = session.get(InboundMessage, reply.inbound_id)
        assert probe is not None and inbound is not None
        brand = session.get(Brand, probe.brand_id)
        scenario = session.get(Scenario, probe.scenario_id)
        scores = session.exec(select(Score).where(Score.reply_id == reply_id, Score.rubric_version == version)
                              .order_by(col(Score.id))).all()
        auto = next((s for s in reversed(scores) if s.scorer == AUTO), None)
        name = brand.name if brand else ""
        evidence = auto.evidence if auto else {}
        text, subject, request = reply.text, probe.subject, probe.body
        if not show_brand:  # blind: the brand masked in every text, the cited spans too
            mask = brand_mask(brand or name)
            text, subject, request = mask.apply(text), mask.apply(subject), mask.apply(request)
            evidence = {crit: [{**s, "text": mask.apply(str(s.get("text", ""))), "why": mask.apply(str(s.get("why", "")))}
                               for s in items] for crit, items in evidence.items()}
        segments, spans = highlight(text, evidence)
        timing = probe_clock(probe, brand) if brand else None
        attachments, has_html = _message_outline(ws.evidence.get(inbound.sha256) if ws.evidence.exists(inbound.sha256) else b"")
        if not show_brand:  # "facture-fnac.pdf" names the brand too
            mask = brand_mask(brand or name)
            attachments = [(mask.apply(a or ""), media, size) for a, media, size in attachments]
        latest: dict[str, Score] = {}
        for s in scores:
            if s.scorer.startswith((AUDITOR_PREFIX, ADJUDICATOR_PREFIX)):
                latest[s.scorer] = s
        return Dossier(
            reply_id=reply_id, inbound_id=inbound.id or 0, kind=reply.kind, channel=probe.channel,
            scenario=scenario.title if scenario else "", subject=subject, request=request, segments=segments, spans=spans,
            auto_total=auto.total if auto else None, auto_criteria=dict(auto.criteria) if auto else {},
            timing=timing, received_at=reply.received_at, match_method=reply.match_method,
            match_confidence=reply.match_confidence, needs_review=reply.needs_review,
            delay_review=reply.delay_review, source=inbound.source,
            from_address=inbound.from_address if show_brand else "", attachments=attachments,
            has_html=has_html, parse_error=inbound.parse_error, brand=name if show_brand else None,
            codes=list(latest.values()) if show_codes else [],
        )


def _message_outline(raw: bytes) -> tuple[list[tuple[str, str, int]], bool]:
    if not raw:
        return [], False
    from ..mail.parse import UnparseableMessage, parse_message

    try:
        parsed = parse_message(raw)
    except UnparseableMessage:
        return [], False
    return list(parsed.attachments), _html_part(raw) is not None


def _html_part(raw: bytes) -> str | None:
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
        return None if body is None else str(body.get_content())[:MAX_RAW_TEXT * 5]
    except Exception:  # a broken MIME structure: the text view is shown instead
        return None


def inbound_of_reply(coding: Coding, reply_id: int) -> InboundMessage:
    return _message_of_reply(coding, reply_id)[0]


def _message_of_reply(coding: Coding, reply_id: int) -> tuple[InboundMessage, Brand | None]:
    with coding.ws.session() as session:
        reply = session.get(Reply, reply_id)
        if reply is None:
            raise NotFound(f"reply {reply_id} does not exist", "go back to the queue")
        inbound = session.get(InboundMessage, reply.inbound_id)
        probe = session.get(Probe, reply.probe_id)
        assert inbound is not None and probe is not None
        brand = session.get(Brand, probe.brand_id)
        session.expunge(inbound)
        if brand is not None:
            session.expunge(brand)
        return inbound, brand


def raw_view(coding: Coding, reply_id: int, *, blind: bool) -> str:
    """Return the raw-message document of `reply_id`; blind, without sender and with the brand masked."""
    inbound, brand = _message_of_reply(coding, reply_id)
    return sanitised_document(coding, inbound, mask=brand_mask(brand) if blind else None)


def _text_part(raw: bytes) -> str:
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        return "" if body is None else str(body.get_content())[:MAX_RAW_TEXT]
    except Exception:  # a broken MIME structure: nothing of it is shown blind
        return ""


def sanitised_document(coding: Coding, inbound: InboundMessage, *, mask: BrandMask | None = None) -> str:
    """Return a whole HTML document showing the raw message: its HTML cleaned by nh3, else its text.

    With `mask` (blind coding) no header is shown (no sender, no recipient) and the brand is
    masked in what is: the subject and the body, signature and quoted history included."""
    import html

    import nh3

    ws = coding.ws
    raw = ws.evidence.get(inbound.sha256) if ws.evidence.exists(inbound.sha256) else b""
    found = _html_part(raw) if raw else None
    if found is not None:
        tags = set(nh3.ALLOWED_TAGS) - {"img", "picture", "source", "video", "audio", "map", "area"}
        # target=_blank: the sandbox allows no pop-up, so a click on a link goes nowhere.
        body = nh3.clean(found, tags=tags, url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer nofollow",
                         strip_comments=True, set_tag_attribute_values={"a": {"target": "_blank"}})
        if mask is not None:  # after cleaning: the marks hold no markup, the cleaned HTML no script
            body = mask.apply(body.replace("&nbsp;", "\u00a0"))  # "Fnac&nbsp;Darty" is one name
    elif mask is not None:
        body = f"<pre>{html.escape(mask.apply(_text_part(raw)))}</pre>"
    else:
        text = raw[:MAX_RAW_TEXT].decode("utf-8", errors="replace")
        body = f"<pre>{html.escape(text)}</pre>"
    if mask is not None:
        note = ("<p><em>Blind coding: the sender, the recipients and every mention of the brand are "
                "hidden.</em></p>")
        body = f"{note}<p>Subject: {html.escape(mask.apply(inbound.subject or ''))}</p>{body}"
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>raw message</title></head>"
            f"<body>{body}</body></html>")
