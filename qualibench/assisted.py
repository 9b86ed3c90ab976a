"""The assisted queue: missions for people, and what they report back (sent, replies, screenshots).

Assisted replies go through the same classification, clock and state machine as the others
(`probes.record_reply`), so `score` scores them like any answer. A bulk file from a team of
shoppers is checked whole first: one bad row and nothing of the file is imported.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, or_, select

from .campaign.spec import ASSISTED_CHANNELS
from .clock import ensure_utc
from .errors import InvalidInput, NotFound, Problem, QualibenchError, StateError
from .evidence import record_evidence
from .models import Brand, MatchMethod, Persona, Probe, ProbeState, Reply, ReplyKind
from .probes import record_reply as record_probe_reply
from .probes import transition
from .workspace import Workspace

# Public posts are short; conversations (Messenger, WhatsApp, chat) take the full text.
SHORT_TEXT_CHANNELS = ("instagram", "linkedin")
WAITING_TO_SEND = (ProbeState.ASSISTED.value, ProbeState.PLANNED.value)
CAN_BE_ANSWERED = (ProbeState.SENT.value, ProbeState.ANSWERED.value, ProbeState.UNANSWERED.value)


@dataclass
class Mission:
    """What a person must do for one probe: who to be, where to write, the exact text, when."""

    probe_id: int
    probe_key: str
    channel: str
    brand: str
    where: str
    persona: str
    persona_email: str
    persona_phone: str
    subject: str
    text: str
    when: datetime | None
    reason: str = ""
    brand_key: str = ""
    when_local: str = ""  # the slot in the brand's time zone, as the person will read it

    def as_dict(self) -> dict:
        out = asdict(self)
        out["when"] = self.when.isoformat() if self.when else None
        return out


def _sent_text(probe: Probe) -> str:
    """What the shopper sends for a probe: the short variant on channels that limit length."""
    short = probe.channel in SHORT_TEXT_CHANNELS and probe.short_text
    return probe.short_text if short else probe.body


def _mission_query(campaign_id: int | None):  # type: ignore[no-untyped-def]
    query = select(Probe, Brand, Persona).join(Brand, Brand.id == Probe.brand_id).join(  # type: ignore[arg-type]
        Persona, Persona.id == Probe.persona_id).where(  # type: ignore[arg-type]
        or_(Probe.state == ProbeState.ASSISTED.value,
            (Probe.state == ProbeState.PLANNED.value) & col(Probe.channel).in_(ASSISTED_CHANNELS)))
    if campaign_id is not None:
        query = query.where(Probe.campaign_id == campaign_id)
    return query.order_by(col(Probe.planned_at), col(Probe.id))


def _campaign_id(ws: Workspace, session: Session) -> int:
    # Always one campaign: the folder's, --campaign-id's, or the database's only one.
    return ws.resolved_campaign_id(session)


def next_missions(ws: Workspace, limit: int = 1, *, channel: str | None = None) -> list[Mission]:
    """Return the next `limit` probes a person must send, earliest slot first."""
    with ws.session() as session:
        query = _mission_query(_campaign_id(ws, session))
        if channel:
            query = query.where(Probe.channel == channel)
        missions = []
        for probe, brand, persona in session.exec(query.limit(limit)):
            contacts = brand.contacts or {}
            where = contacts.get(probe.channel) or contacts.get("webform") or ""
            missions.append(Mission(
                probe_id=probe.id, probe_key=probe.key, channel=probe.channel, brand=brand.name,  # type: ignore[arg-type]
                where=where, persona=f"{persona.first_name} {persona.last_name}",
                persona_email=probe.reply_address or persona.email, persona_phone=persona.phone,
                subject=probe.subject, text=_sent_text(probe),
                when=probe.planned_at,
                reason=probe.failure_reason or "" if probe.state == ProbeState.ASSISTED.value else "",
                brand_key=brand.key, when_local=_local(probe.planned_at, brand.timezone),
            ))
        return missions


def _local(when: datetime | None, timezone: str) -> str:
    if when is None:
        return ""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return when.isoformat()
    return when.astimezone(zone).strftime("%a %d %b %Y %H:%M ") + timezone


def _probe(ws: Workspace, session: Session, ref: int | str) -> Probe:
    """Return the probe `ref` (id or key) of this workspace's campaign, never another edition's."""
    campaign_id = _campaign_id(ws, session)
    probe = None
    if isinstance(ref, int) or str(ref).isdigit():
        probe = session.get(Probe, int(ref))
        if probe is not None and probe.campaign_id != campaign_id:
            probe = None
    if probe is None:
        probe = session.exec(select(Probe).where(Probe.campaign_id == campaign_id,
                                                 Probe.key == str(ref))).first()
    if probe is None:
        raise NotFound(f"no probe {ref!r}", "use the id or key printed by `qualibench assist next`")
    return probe


def _check_time(ws: Workspace, at: datetime, what: str) -> datetime:
    at = ensure_utc(at)
    if at > ws.clock.now() + timedelta(minutes=5):
        raise QualibenchError(f"the {what} time {at.isoformat()} is in the future",
                              "give the time it happened, with its UTC offset (e.g. 2026-03-02T14:05+01:00)")
    return at


def _sent(ws: Workspace, session: Session, probe: Probe, at: datetime | None) -> Probe:
    if probe.state not in WAITING_TO_SEND:
        raise StateError(f"probe {probe.key} is already {probe.state}",
                         "record a reply with `qualibench assist reply`, or pick another probe")
    at = _check_time(ws, at or ws.clock.now(), "sending")
    probe.sent_at = at
    probe.dispatch = {**(probe.dispatch or {}), "outcome": "sent", "by": "person",
                      "recorded_at": ws.clock.now().isoformat()}
    transition(session, probe, ProbeState.SENT, clock=ws.clock, payload={"sent_at": at.isoformat(),
                                                                         "by": "person"})
    return probe


def record_sent(ws: Workspace, probe_id: int | str, at: datetime | None = None) -> Probe:
    """Record that a person sent probe `probe_id` at `at` (default now); return the probe."""
    with ws.session() as session:
        return _sent(ws, session, _probe(ws, session, probe_id), at)


def _reply(ws: Workspace, session: Session, probe: Probe, at: datetime, text: str,
           screenshot: tuple[bytes, str] | None, kind: str | None) -> Reply:
    from .collecting import ingest_raw
    from .mail.classify import classify_text

    if probe.state not in CAN_BE_ANSWERED:
        raise StateError(f"probe {probe.key} is {probe.state}, not sent",
                         f"record the sending first: qualibench assist sent {probe.id} --at TIME")
    at = _check_time(ws, at, "reply")
    if probe.sent_at and at < probe.sent_at:
        raise QualibenchError(f"the reply time {at.isoformat()} is before the sending time "
                              f"{probe.sent_at.isoformat()}", "check both times and their UTC offsets")
    if not text.strip():
        raise QualibenchError("the reply text is empty", "paste the brand's words into the text file")
    shot = None
    if screenshot is not None:
        shot = record_evidence(session, ws.evidence, screenshot[0], screenshot[1], ws.clock)
    entry = {"probe": probe.key, "channel": probe.channel, "at": at.isoformat(), "text": text,
             "screenshot_sha256": shot}
    inbound = ingest_raw(ws, session, probe.campaign_id,
                         json.dumps(entry, ensure_ascii=False, sort_keys=True).encode(),
                         channel=probe.channel, source="assisted", source_ref=f"probe:{probe.id}",
                         received_at=at, media_type="application/json")
    if session.exec(select(Reply).where(Reply.inbound_id == inbound.id)).first() is not None:
        raise StateError(f"this reply to probe {probe.key} is already recorded",
                         "nothing to do; `qualibench status` shows it")
    # (the request as sent: beside an acknowledgement, a template's lines touch none of it)
    cls = classify_text(text, sent_at=probe.sent_at, received_at=at, request=_sent_text(probe))
    chosen = ReplyKind(kind) if kind else cls.kind
    return record_probe_reply(
        session, probe, inbound, kind=chosen, text=text, received_at=at,
        method=MatchMethod.ASSISTED.value, confidence=1.0, clock=ws.clock, language=cls.language,
        redirect_to=cls.redirect_to, ticket_ref=cls.ticket_ref,
        notice=cls.notice if chosen is cls.kind else "")


def _screenshot(path: Path | None) -> tuple[bytes, str] | None:
    if path is None:
        return None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise QualibenchError(f"cannot read the screenshot {path}: {exc.strerror or exc}",
                              "check the path of the image file") from None
    return data, mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def record_reply(ws: Workspace, probe_id: int | str, at: datetime, text: str,
                 screenshot: Path | None = None, kind: str | None = None) -> Reply:
    """Record the brand's reply to an assisted probe (classified, timed, then scored); return it."""
    shot = _screenshot(screenshot)
    with ws.session() as session:
        return _reply(ws, session, _probe(ws, session, probe_id), at, text, shot, kind)


# -- bulk import from a team of shoppers --------------------------------------------------------

IMPORT_COLUMNS = {
    "probe": ("probe_id", "sonde", "id", "key", "probe_key"),
    "event": ("action", "evenement", "type", "what"),
    "at": ("time", "date", "heure", "datetime", "quand", "when"),
    "text": ("texte", "reply", "reponse", "message", "reply_text"),
    "text_file": ("fichier_texte", "file"),
    "screenshot": ("capture", "capture_ecran", "image", "screenshot_file"),
    "kind": ("nature", "reply_kind"),
}
_EVENTS = {"sent": "sent", "envoye": "sent", "envoi": "sent", "reply": "reply", "reponse": "reply",
           "answer": "reply", "replied": "reply"}


@dataclass
class ImportReport:
    """What an assisted import recorded."""

    sent: int = 0
    replies: int = 0
    warnings: list[str] = field(default_factory=list)


def parse_local_time(value: str, timezone: str) -> datetime:
    """Return `value` as aware UTC; a time written without offset is the brand's local time."""
    text = value.strip().replace("/", "-")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(timezone or "UTC"))
        except ZoneInfoNotFoundError:
            parsed = parsed.replace(tzinfo=ZoneInfo("UTC"))
    return ensure_utc(parsed)


@dataclass
class _Row:
    line: int
    probe_id: int
    event: str
    at: datetime
    text: str = ""
    screenshot: Path | None = None
    kind: str | None = None


def _check_rows(ws: Workspace, session: Session, path: Path, table_rows: list, problems: list[Problem]) -> list[_Row]:
    from .campaign.tabular import fold

    fname = str(path)
    out: list[_Row] = []
    sent_in_file: dict[int, datetime] = {}
    for line, row in table_rows:
        where = f"row {line}"

        def bad(column: str, message: str, hint: str, where: str = where) -> None:
            problems.append(Problem(fname, message, hint, location=where, field=column))

        try:
            probe = _probe(ws, session, row.get("probe", ""))
        except NotFound:
            bad("probe", f"no probe {row.get('probe', '')!r}", "copy the id or key shown by `qualibench assist next`")
            continue
        brand = session.get(Brand, probe.brand_id)
        event = _EVENTS.get(fold(row.get("event", "")))
        if event is None:
            bad("event", f"unknown event {row.get('event', '')!r}", "write sent or reply")
            continue
        try:
            at = parse_local_time(row.get("at", ""), brand.timezone if brand else "UTC")
        except ValueError:
            bad("at", f"cannot read the time {row.get('at', '')!r}",
                "write 2026-03-02 14:05 (the brand's local time) or add an offset, e.g. 14:05+01:00")
            continue
        if at > ws.clock.now() + timedelta(minutes=5):
            bad("at", f"the time {at.isoformat()} is in the future", "give the time it happened")
            continue
        item = _Row(line, probe.id, event, at)  # type: ignore[arg-type]
        if event == "sent":
            if probe.state not in WAITING_TO_SEND or probe.id in sent_in_file:
                bad("probe", f"probe {probe.key} is already sent", "remove this row")
                continue
            sent_in_file[probe.id] = at  # type: ignore[index]
        else:
            sent_at = sent_in_file.get(probe.id) or (probe.sent_at if probe.state in CAN_BE_ANSWERED else None)  # type: ignore[call-overload]
            if sent_at is None:
                bad("probe", f"probe {probe.key} has not been sent", "add a 'sent' row for it above this one")
                continue
            if at < sent_at:
                bad("at", "the reply is dated before the sending", "check both times and the time zone")
                continue
            item.text = row.get("text", "")
            if row.get("text_file"):
                text_path = (path.parent / row["text_file"]).resolve()
                if not text_path.is_file():
                    bad("text_file", f"file {row['text_file']} not found", "put it next to the import file")
                    continue
                item.text = text_path.read_text(encoding="utf-8", errors="replace")
            if not item.text.strip():
                bad("text", "the reply text is empty", "paste the brand's words or name a text_file")
                continue
            if row.get("screenshot"):
                shot = (path.parent / row["screenshot"]).resolve()
                if not shot.is_file():
                    bad("screenshot", f"file {row['screenshot']} not found", "put it next to the import file")
                    continue
                item.screenshot = shot
            if row.get("kind"):
                if row["kind"] not in {k.value for k in ReplyKind}:
                    bad("kind", f"unknown kind {row['kind']!r}",
                        f"use one of {', '.join(k.value for k in ReplyKind)} or leave it empty")
                    continue
                item.kind = row["kind"]
        out.append(item)
    return out


def import_assisted(ws: Workspace, path: Path) -> ImportReport:
    """Record a team's sendings and replies from a CSV/XLSX file; all rows or none."""
    from .campaign.tabular import read_table

    path = Path(path)
    problems: list[Problem] = []
    table = read_table(path, IMPORT_COLUMNS, ("probe", "event", "at"), problems, "assisted import")
    errors = [p for p in problems if p.severity == "error"]
    if table is None or errors:
        raise InvalidInput(problems, f"{len(errors)} problem(s) in {path.name}; nothing was imported")
    report = ImportReport(warnings=[p.line() for p in problems])
    with ws.session() as session:
        rows = _check_rows(ws, session, path, table.rows, problems)
        if any(p.severity == "error" for p in problems):
            raise InvalidInput(problems, f"{sum(p.severity == 'error' for p in problems)} problem(s) "
                               f"in {path.name}; nothing was imported")
        # One transaction: a failure on any row rolls every row back.
        for row in sorted(rows, key=lambda r: (r.at, r.event != "sent")):
            probe = session.get(Probe, row.probe_id)
            assert probe is not None
            if row.event == "sent":
                _sent(ws, session, probe, row.at)
                report.sent += 1
            else:
                _reply(ws, session, probe, row.at, row.text, _screenshot(row.screenshot), row.kind)
                report.replies += 1
    return report
