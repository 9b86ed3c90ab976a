"""The optional reminder: one follow-up e-mail in the same thread to brands that have not answered.

It goes through the same outbox protocol as the probe itself (state kept in
Probe.dispatch["reminder"], committed before the SMTP transaction, reconciled from the Sent
folder after an interruption), and is counted apart from the probes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import select

from .db import skip_locked
from .events import log_event
from .models import Brand, Persona, Probe, ProbeState

if TYPE_CHECKING:
    from .sending import Progress, SendReport, _Channels
    from .workspace import Workspace


def _set_reminder(probe: Probe, **values: Any) -> None:
    dispatch = dict(probe.dispatch or {})
    dispatch["reminder"] = {**dispatch.get("reminder", {}), **values}
    probe.dispatch = dispatch  # a new dict, so the JSON column is seen as changed


def _reminder_state(probe: Probe) -> str:
    return str((probe.dispatch or {}).get("reminder", {}).get("state", ""))


def send_reminders(ws: Workspace, *, limit: int | None = None, dry_run: bool = False,
                   insecure: bool = False, progress: Progress | None = None) -> SendReport:
    """Send the due reminders alone (the [reminder] policy must be on) and return the report."""
    from .sending import Sender, SendReport, _Channels, send_lock

    report = SendReport()
    if not ws.spec().config.reminder.enabled:
        return report
    sender = Sender(ws)
    with send_lock(ws), sender.alive():
        with ws.session() as s:
            campaign_id = ws.campaign(s).id
        assert campaign_id is not None
        channels = _Channels(insecure)
        channels.sender = sender
        try:
            send_reminders_with(ws, campaign_id, channels, dry_run=dry_run, report=report,
                                limit=limit, progress=progress)
        finally:
            channels.close()
    return report


def send_reminders_with(ws: Workspace, campaign_id: int, channels: _Channels, *,
                        dry_run: bool, report: SendReport, limit: int | None = None,
                        progress: Progress | None = None) -> None:
    """Settle interrupted reminders, then send the due ones; counts go into `report`."""
    channel = channels.get("email")
    if channel is None or not hasattr(channel, "send_reminder"):
        return
    cfg = ws.spec().config
    now = ws.clock.now()
    cutoff = now - timedelta(days=cfg.reminder.after_days)
    with ws.session() as s:
        candidates = list(s.exec(select(Probe).where(
            Probe.campaign_id == campaign_id, Probe.channel == "email",
            Probe.state == ProbeState.SENT.value, Probe.reminder_sent_at.is_(None),  # type: ignore[union-attr]
            Probe.first_answer_at.is_(None))))  # type: ignore[union-attr]
        brands = {b.id: b for b in s.exec(select(Brand).where(Brand.campaign_id == campaign_id))}
        personas = {p.id: p for p in
                    s.exec(select(Persona).where(Persona.campaign_id == campaign_id))}

    from .sending import Sender

    sender = channels.sender or Sender(ws)
    if not dry_run:
        for probe in [p for p in candidates if _reminder_state(p) == "dispatching"]:
            owner = probe.dispatch["reminder"].get("claimed_by")
            if not sender.is_gone(owner):
                continue  # another machine's live run is sending it
            rid = probe.dispatch["reminder"]["message_id"]
            result = channel.reconcile_message(ws, probe, rid)
            with ws.session() as s:
                row = s.exec(select(Probe).where(Probe.id == probe.id).with_for_update()).first()
                assert row is not None
                if _reminder_state(row) != "dispatching" or \
                        row.dispatch["reminder"].get("claimed_by") != owner:
                    continue  # settled by another machine meanwhile
                if result is not None and result.outcome == "sent":
                    row.reminder_sent_at = result.sent_at
                    _set_reminder(row, state="sent", reconciled=True)
                    report.reminders_sent += 1
                    log_event(s, campaign_id, "probe.reminder", f"probe:{row.id}",
                              {"message_id": rid, "reconciled": True}, ws.clock)
                elif result is not None and result.outcome == "unknown":
                    # Copied but never proven delivered: sending it again may duplicate it.
                    _set_reminder(row, state="failed", reconciled=False, detail=result.detail)
                    report.reminders_failed += 1
                else:
                    _set_reminder(row, state="", reconciled=False)
                s.add(row)
            probe.dispatch = row.dispatch
            probe.reminder_sent_at = row.reminder_sent_at

    due = [p for p in candidates
           if p.reminder_sent_at is None and _reminder_state(p) in ("", "pending")
           and p.sent_at is not None and p.sent_at <= cutoff
           and (p.window_ends_at is None or p.window_ends_at > now)]
    if limit is not None:
        due = due[:limit]
    last_domain: dict[str, Any] = {}
    gap = timedelta(seconds=cfg.throttle.per_domain_seconds)
    for i, probe in enumerate(due, 1):
        brand, persona = brands[probe.brand_id], personas[probe.persona_id]
        if dry_run:
            report.items.append({"probe": probe.key, "outcome": "would_remind", "detail": ""})
            continue
        domain = str(brand.contacts.get("email", "")).rpartition("@")[2]
        if domain in last_domain:
            wait = (last_domain[domain] + gap - ws.clock.now()).total_seconds()
            if wait > 0:
                report.throttled_seconds += wait
                ws.clock.sleep(wait)
        from .channels.email import reminder_message_id

        rid = reminder_message_id(probe.message_id or "")
        with ws.session() as s:
            # The claim, as for probes: one machine of the team wins the row.
            row = s.exec(skip_locked(select(Probe).where(Probe.id == probe.id))).first()
            if row is None or row.reminder_sent_at is not None or row.first_answer_at is not None \
                    or _reminder_state(row) not in ("", "pending"):
                continue
            _set_reminder(row, state="dispatching", message_id=rid, claimed_by=sender.owner)
            s.add(row)
        # Committed: an interruption from here on is settled from the Sent folder next run.
        result = channel.send_reminder(ws, row, brand, persona)
        with ws.session() as s:
            row = s.get(Probe, probe.id)
            assert row is not None
            if result.outcome == "sent":
                row.reminder_sent_at = result.sent_at
                _set_reminder(row, state="sent", detail=result.detail,
                              evidence_sha256=result.evidence_sha256)
                report.reminders_sent += 1
            else:
                tries = int(row.dispatch.get("reminder", {}).get("tries", 0)) + 1
                final = result.outcome != "retry" or tries >= 3
                _set_reminder(row, state="failed" if final else "pending", tries=tries,
                              detail=result.detail)
                report.reminders_failed += int(final)
            s.add(row)
            log_event(s, campaign_id, "probe.reminder", f"probe:{row.id}",
                      {"message_id": rid, "outcome": result.outcome,
                       "detail": result.detail[:500]}, ws.clock)
        last_domain[domain] = ws.clock.now()
        report.items.append({"probe": probe.key, "outcome": f"reminder_{result.outcome}",
                             "detail": result.detail})
        if progress:
            progress(i, len(due), f"{probe.key}: reminder {result.outcome}")
