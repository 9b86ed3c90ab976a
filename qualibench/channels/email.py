"""The e-mail channel: SMTP out (with a Sent-folder copy as a mail client keeps); replies come
back through the IMAP collector, so `collect` yields nothing here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import select

from ..errors import QualibenchError
from ..mail.compose import WireMessage, wire_message
from ..mail.sentbox import AppendedCopy, SentFolder
from ..mail.smtp import SmtpConnection, SmtpEndpoint, build_message, sender_for
from ..models import Brand, Persona, Probe, Scenario
from .base import CollectedItem, DispatchResult

if TYPE_CHECKING:
    from email.message import EmailMessage

    from ..campaign.spec import AccountSpec
    from ..workspace import Workspace

REMINDER_TEXT = {
    "fr": "Bonjour,\n\nJe me permets de vous relancer au sujet de ma demande ci-dessous, "
          "restée sans réponse pour le moment.\n\nMerci d'avance,\n{name}",
    "en": "Hello,\n\nI am following up on my request below, which has not been answered yet."
          "\n\nThank you in advance,\n{name}",
}
REMINDER_PREFIX = {"fr": "Relance : ", "en": "Follow-up: "}


def reminder_message_id(message_id: str) -> str:
    """Return the Message-ID of a probe's reminder, derived from the probe's own."""
    local, _, domain = message_id.strip("<>").partition("@")
    return f"<{local[::-1]}.r1@{domain}>"


@dataclass
class _AccountLink:
    smtp: SmtpConnection
    sent: SentFolder


class EmailChannel:
    """Sends probes by SMTP from the persona's account, keeping a copy in its Sent folder."""

    name = "email"
    automated = True

    def __init__(self, *, insecure: bool = False) -> None:
        self.insecure = insecure
        self._links: dict[str, _AccountLink] = {}
        self._sent_only: dict[str, SentFolder] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def _account(self, ws: Workspace, persona: Persona) -> AccountSpec:
        accounts = ws.spec().config.accounts
        acc = accounts.get(persona.account)
        if acc is None or not acc.smtp_host:
            raise QualibenchError(
                f"persona {persona.key!r} writes from account {persona.account!r}, which has no "
                f"SMTP settings",
                f"add smtp_host (and imap_host) under [accounts.{persona.account}] in campaign.toml",
            )
        return acc

    def _link(self, ws: Workspace, persona: Persona) -> _AccountLink:
        acc = self._account(ws, persona)
        link = self._links.get(acc.name)
        if link is None:
            endpoint = SmtpEndpoint(
                account=acc.name, host=acc.smtp_host, port=acc.smtp_port,
                security=acc.smtp_security, username=acc.username, password=acc.password(),
                insecure=self.insecure)
            domain = persona.email.rpartition("@")[2] or None
            link = _AccountLink(SmtpConnection(endpoint, local_hostname=domain),
                                self._sent_folder(acc))
            self._links[acc.name] = link
        return link

    def _sent_folder(self, acc: AccountSpec) -> SentFolder:
        if acc.name not in self._sent_only:
            self._sent_only[acc.name] = SentFolder(acc, insecure=self.insecure)
        return self._sent_only[acc.name]

    def close(self) -> None:
        """Log out of every SMTP and IMAP connection opened by this channel."""
        for link in self._links.values():
            link.smtp.close()
        for folder in self._sent_only.values():
            folder.close()
        self._links.clear()
        self._sent_only.clear()

    # -- the contract -----------------------------------------------------------------------

    def _parts(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona,
               reminder: bool) -> dict:
        """Return the arguments of the message for `probe` (or its reminder)."""
        cfg = ws.spec().config
        mail_cfg = cfg.raw.get("mail", {}) if isinstance(cfg.raw.get("mail", {}), dict) else {}
        sender = sender_for(persona.first_name, persona.last_name, persona.email,
                            probe.reply_address, str(mail_cfg.get("from_header", "alias")))
        to = brand.contacts.get("email", "")
        if not probe.message_id:
            raise QualibenchError(f"probe {probe.key} has no Message-ID",
                                  "run `qualibench plan` again to complete it")
        if not reminder:
            return dict(sender=sender, to=to, subject=probe.subject, body=probe.body,
                        message_id=probe.message_id, date=ws.clock.now(),
                        timezone=brand.timezone)
        with ws.session() as s:
            scenario = s.get(Scenario, probe.scenario_id)
        lang = "en" if scenario is not None and scenario.language.startswith("en") else "fr"
        name = f"{persona.first_name} {persona.last_name}".strip()
        quoted = "\n".join("> " + line if line else ">" for line in probe.body.splitlines())
        body = REMINDER_TEXT[lang].format(name=name) + "\n\n" + quoted
        return dict(sender=sender, to=to, subject=REMINDER_PREFIX[lang] + probe.subject,
                    body=body, message_id=reminder_message_id(probe.message_id),
                    date=ws.clock.now(), timezone=brand.timezone, in_reply_to=probe.message_id)

    def build(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona,
              *, reminder: bool = False) -> EmailMessage:
        """Return the message for `probe` (or its reminder) as the brand will receive it."""
        return build_message(**self._parts(ws, probe, brand, persona, reminder))

    def send(self, ws: Workspace, probe: Probe, brand: Brand, persona: Persona) -> DispatchResult:
        """Send the probe; its Sent copy is stored before the server can accept it."""
        if not brand.contacts.get("email"):
            return DispatchResult("failed", detail=f"brand {brand.key} has no e-mail contact")
        # The same bytes as build(), written directly (mail/compose.py).
        return self._transmit(ws, wire_message(**self._parts(ws, probe, brand, persona, False)),
                              persona)

    def send_reminder(self, ws: Workspace, probe: Probe, brand: Brand,
                      persona: Persona) -> DispatchResult:
        """Send the probe's one reminder, in the same thread (In-Reply-To our Message-ID)."""
        if not brand.contacts.get("email"):
            return DispatchResult("failed", detail=f"brand {brand.key} has no e-mail contact")
        return self._transmit(ws, wire_message(**self._parts(ws, probe, brand, persona, True)),
                              persona)

    def _transmit(self, ws: Workspace, msg: WireMessage, persona: Persona) -> DispatchResult:
        link = self._link(ws, persona)
        raw, message_id = msg.raw, msg.message_id
        # Bounces come back to the envelope sender: the From address (the alias by default).
        mail_from, rcpts = msg.mail_from, msg.rcpts
        sha = ws.evidence.put(raw)
        when = ws.clock.now()
        appended: list[AppendedCopy] = []

        def commit(send_dot) -> bool:  # type: ignore[no-untyped-def]
            appended.append(link.sent.append_then(raw, when, send_dot))
            return appended[0].stored

        outcome = link.smtp.transmit(mail_from, rcpts, raw, commit_with=commit, now=ws.clock.now)
        evidence = {"message_id": message_id, "mail_from": mail_from, "rcpt": rcpts,
                    "smtp": outcome.transcript, "stage": outcome.stage}
        if outcome.status == "accepted" and outcome.unconfirmed:
            # The dot went out but the server's answer was lost: it may or may not have taken
            # the message. Sending again could duplicate it, so the probe stays `dispatching`
            # (its copy unread) and is reported as of unknown outcome, never counted as sent.
            return DispatchResult("unknown", detail="the SMTP server's answer to the end of the "
                                  f"message was lost ({outcome.server_words}): it may or may not "
                                  "have been delivered", evidence=evidence, evidence_sha256=sha)
        if outcome.status == "accepted":
            if not outcome.copy_stored:
                evidence["sent_copy"] = self._store_copy_late(link, raw, when)
            else:
                try:  # the proof of delivery a reconciliation reads after a kill
                    link.sent.mark_delivered(appended[0], message_id)
                except QualibenchError as exc:
                    evidence["sent_copy"] = f"not marked read: {exc.message}"
            return DispatchResult("sent", sent_at=outcome.accepted_at, detail=outcome.server_words,
                                  evidence=evidence, evidence_sha256=sha)
        if outcome.stage == "end":
            # The server refused after the copy went in: take it back out, or a later
            # reconciliation would find a copy of unknown fate.
            link.sent.remove(message_id)
        kind = "retry" if outcome.status == "temporary" else "undeliverable"
        return DispatchResult(kind, detail=outcome.server_words, evidence=evidence,
                              evidence_sha256=sha)

    @staticmethod
    def _store_copy_late(link: _AccountLink, raw: bytes, when) -> str:  # type: ignore[no-untyped-def]
        """Retry the Sent copy of a message already accepted; return what became of it."""
        try:
            link.sent.append(raw, when)
        except QualibenchError as exc:
            return f"missing: {exc.message}"
        return "stored after delivery"

    def reconcile(self, ws: Workspace, probe: Probe) -> DispatchResult | None:
        """Say what became of a probe left in `dispatching`: sent if its copy in Sent is read
        (marked after the server accepted it), "unknown" if it is unread, otherwise "retry"
        (never accepted by the server, safe to send again)."""
        return self.reconcile_message(ws, probe, probe.message_id or "")

    def reconcile_message(self, ws: Workspace, probe: Probe,
                          message_id: str) -> DispatchResult | None:
        """Return the fate of `message_id` sent for `probe`, read from the Sent folder."""
        with ws.session() as s:
            persona = s.exec(select(Persona).where(Persona.id == probe.persona_id)).one()
        acc = self._account(ws, persona)
        copy = self._sent_folder(acc).find(message_id)
        if copy is None:
            return DispatchResult("retry", detail="no copy in the Sent folder: never accepted",
                                  evidence={"reconciled": True, "message_id": message_id})
        if not copy.delivered:
            # Copied, but the server's acceptance was never recorded: interrupted between the
            # copy and the end of the message, or just after it. Sending again may duplicate
            # it and counting it sent may count a message never delivered: the analyst decides.
            return DispatchResult("unknown", detail="its Sent copy exists but the SMTP server's "
                                  "acceptance was never recorded (interrupted at the end of the "
                                  "message): it may not have been delivered; check with the "
                                  "brand's reply or the mail server's log",
                                  evidence={"message_id": message_id, "sent_uid": copy.uid})
        return DispatchResult("sent", sent_at=copy.internal_date,
                              detail="copy found in the Sent folder after an interruption",
                              evidence={"reconciled": True, "message_id": message_id,
                                        "sent_uid": copy.uid,
                                        "sent_at_source": "sent-folder INTERNALDATE"})

    def collect(self, ws: Workspace) -> Iterable[CollectedItem]:
        """Yield nothing: e-mail replies are collected from the mailbox by `qualibench collect`."""
        return ()

