"""Customer-looking probe messages and their SMTP dispatch, with a hook before the final dot.

The hook is what makes the outbox crash-safe: the body goes to the SMTP server, then the
Sent-folder copy is APPENDed (unread), and the terminating "." that makes the SMTP server accept
the message is written the instant the IMAP server holds the whole copy (before its answer is
read); once the server has answered 250 the copy is marked read. A copy in Sent therefore
exists for every message the server accepted, and a message without one was never accepted and
can be sent again. A read copy proves the delivery. An unread one is what a kill between the
copy and the server's answer leaves (the dot may or may not have gone out): its probe is
reported as of unknown outcome for an analyst, neither sent again nor counted as sent.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from ..channels.reuse import current_park
from ..errors import QualibenchError, RemoteFailure

SECURITY_MODES = ("tls", "starttls", "plain")
IDLE_CHECK_SECONDS = 20.0  # reuse a connection without a NOOP when it was used this recently


def is_loopback(host: str) -> bool:
    """Return True when every address `host` resolves to is a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def check_transport(
    protocol: str, account: str, host: str, security: str, *, has_credentials: bool, insecure: bool
) -> None:
    """Raise unless `security` is allowed for `host`: plain text only on loopback or --insecure."""
    if security not in SECURITY_MODES:
        raise QualibenchError(
            f"account {account!r}: {protocol}_security {security!r} is not one of "
            f"{', '.join(SECURITY_MODES)}",
            f'set {protocol}_security = "tls" or "starttls" in [accounts.{account}]',
        )
    if not host:
        raise QualibenchError(
            f"account {account!r} has no {protocol}_host",
            f"set {protocol}_host in [accounts.{account}] of campaign.toml",
        )
    if security == "plain" and not insecure and not is_loopback(host):
        what = "a password in clear text" if has_credentials else "mail in clear text"
        raise QualibenchError(
            f'account {account!r} would send {what} to {host} ({protocol}_security = "plain")',
            f'use {protocol}_security = "tls" or "starttls"; or pass --insecure if this '
            f"network is trusted",
        )


def nodelay(sock: socket.socket | None) -> None:
    """Turn Nagle off: the final dot must leave at once, not wait for the ACK of the body
    (with delayed ACKs that wait is ~40 ms a message, and it widens the crash window)."""
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def client_tls_context() -> ssl.SSLContext:
    """Return the verifying TLS context used for SMTP and IMAP (system CAs or $SSL_CERT_FILE)."""
    return ssl.create_default_context()


# --- the message ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """Who the message comes from, as a brand's helpdesk will see it."""

    display_name: str
    address: str  # the From address (the probe's reply alias, or the persona's mailbox)
    reply_to: str | None = None  # set when From is the mailbox and replies go to an alias


def sender_for(
    first_name: str,
    last_name: str,
    mailbox: str,
    reply_address: str | None,
    from_header: str = "alias",
) -> Sender:
    """Return the From/Reply-To identity: the alias as From (default) or as Reply-To only."""
    name = f"{first_name} {last_name}".strip()
    alias = reply_address or mailbox
    if from_header == "reply-to" and alias != mailbox:
        return Sender(name, mailbox, reply_to=alias)
    return Sender(name, alias)


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def build_message(
    *,
    sender: Sender,
    to: str,
    subject: str,
    body: str,
    message_id: str,
    date: datetime,
    timezone: str = "UTC",
    in_reply_to: str | None = None,
) -> EmailMessage:
    """Return the message as an ordinary mail client writes it (no tracking header of ours).

    The Date is shown in the sender's local time (the brand's timezone stands for the persona's);
    the body is UTF-8 quoted-printable so the transport stays 7-bit.
    """
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["Message-ID"] = message_id
    try:
        local = date.astimezone(ZoneInfo(timezone))
    except (KeyError, ValueError):
        local = date
    msg["Date"] = format_datetime(local)
    msg["From"] = _address(sender.display_name, sender.address)
    if sender.reply_to:
        msg["Reply-To"] = _address(sender.display_name, sender.reply_to)
    msg["To"] = to
    msg["Subject"] = subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    text = body.replace("\r\n", "\n").rstrip("\n") + "\n"
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    return msg


def message_bytes(msg: EmailMessage) -> bytes:
    """Return the wire form of `msg` (CRLF line ends)."""
    return msg.as_bytes(policy=SMTP_POLICY)


def dot_stuffed(data: bytes) -> bytes:
    """Return `data` ready for DATA: CRLF line ends, leading dots doubled, ending in CRLF."""
    data = re.sub(rb"\r?\n|\r", b"\r\n", data)
    data = re.sub(rb"(?m)^\.", b"..", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


# --- the transport --------------------------------------------------------------------------


@dataclass
class SmtpOutcome:
    """What the server said about one message."""

    status: str  # "accepted", "temporary" (4xx / connection), "permanent" (5xx)
    code: int
    text: str
    stage: str  # "connect", "mail", "rcpt", "data", "end"
    accepted_at: datetime | None = None
    unconfirmed: bool = False  # connection lost after the final dot: fate unknown, copy exists
    copy_stored: bool = False  # the Sent copy is on the IMAP server
    transcript: list[str] = field(default_factory=list)

    @property
    def server_words(self) -> str:
        return f"{self.code} {self.text}".strip()


@dataclass
class SmtpEndpoint:
    account: str
    host: str
    port: int
    security: str
    username: str = ""
    password: str = field(default="", repr=False)
    insecure: bool = False
    timeout: float = 60.0


class SmtpConnection:
    """One SMTP session, reused for several messages, reconnecting when the server hung up."""

    def __init__(self, endpoint: SmtpEndpoint, local_hostname: str | None = None) -> None:
        check_transport(
            "smtp",
            endpoint.account,
            endpoint.host,
            endpoint.security,
            has_credentials=bool(endpoint.username),
            insecure=endpoint.insecure,
        )
        self.endpoint = endpoint
        self.local_hostname = local_hostname
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0

    def _open(self) -> smtplib.SMTP:
        ep = self.endpoint
        port = ep.port or {"tls": 465, "starttls": 587, "plain": 25}[ep.security]
        try:
            if ep.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    ep.host,
                    port,
                    local_hostname=self.local_hostname,
                    timeout=ep.timeout,
                    context=client_tls_context(),
                )
            else:
                smtp = smtplib.SMTP(
                    ep.host, port, local_hostname=self.local_hostname, timeout=ep.timeout
                )
            nodelay(smtp.sock)
            smtp.ehlo()
            if ep.security == "starttls":
                if not smtp.has_extn("starttls"):
                    smtp.close()
                    raise RemoteFailure(
                        f"SMTP server {ep.host}:{port} does not offer STARTTLS "
                        f"(account {ep.account!r})",
                        'use smtp_security = "tls" with the implicit-TLS port (465), or check '
                        "the server",
                    )
                smtp.starttls(context=client_tls_context())
                nodelay(smtp.sock)
                smtp.ehlo()
            # A server that offers no AUTH (a loopback relay) takes mail without a login.
            if ep.username and smtp.has_extn("auth"):
                smtp.login(ep.username, ep.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise RemoteFailure(
                f"SMTP server {ep.host} refused the login of account {ep.account!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                "check the username and the password variable of the account",
            ) from None
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise RemoteFailure(
                f"TLS with SMTP server {ep.host}:{port} failed: {exc}",
                "check smtp_security/smtp_port; a private CA can be given with $SSL_CERT_FILE",
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RemoteFailure(
                f"cannot reach SMTP server {ep.host}:{port} (account {ep.account!r}): {exc}",
                "check smtp_host/smtp_port and the network; a rerun resumes where it stopped",
            ) from None
        return smtp

    def _park_key(self) -> tuple:
        ep = self.endpoint
        return ("smtp", ep.host, ep.port, ep.security, ep.username, self.local_hostname)

    def close(self) -> None:
        if self._smtp is not None:
            park = current_park()
            if park is not None:  # a later run of this process takes it back
                park.park(self._park_key(), self._smtp, _quit)
            else:
                _quit(self._smtp)
            self._smtp = None

    def abort(self) -> None:
        """Drop the connection without QUIT: a half-sent message is discarded by the server."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _session(self) -> smtplib.SMTP:
        park = current_park()
        if self._smtp is None and park is not None:
            parked = park.take(self._park_key())
            if parked is not None:
                self._smtp, idle = parked
                self._last_used = time.monotonic() - idle
        if self._smtp is not None:
            # A connection used moments ago is alive; one idle longer may have been dropped
            # by the server, and a NOOP costs a round trip only then.
            if time.monotonic() - self._last_used < IDLE_CHECK_SECONDS:
                self._last_used = time.monotonic()
                return self._smtp
            try:
                code, _ = self._smtp.noop()
                if code == 250:
                    self._last_used = time.monotonic()
                    return self._smtp
            except (OSError, smtplib.SMTPException):
                pass
            self.abort()
        self._smtp = self._open()
        self._last_used = time.monotonic()
        return self._smtp

    def transmit(
        self,
        mail_from: str,
        recipients: list[str],
        data: bytes,
        *,
        commit_with: Callable[[Callable[[], None]], bool],
        now: Callable[[], datetime],
    ) -> SmtpOutcome:
        """Send one message; `commit_with(send_dot)` stores the Sent copy and sends the dot.

        The payload goes first; then `commit_with` is called with the function that writes the
        final dot, which it calls as soon as the copy is complete on the IMAP server, and
        returns whether the copy was stored. If it raises without calling it, the connection
        is dropped, so the server never accepts the message, and the exception propagates.
        """
        smtp = self._session()
        log: list[str] = []

        def step(stage: str, code: int, resp: bytes | str, ok: tuple[int, ...]) -> SmtpOutcome | None:
            text = _text(resp)
            log.append(f"{stage}: {code} {text}")
            if code in ok:
                return None
            status = "temporary" if 400 <= code < 500 or code < 0 else "permanent"
            try:
                smtp.rset()
            except (OSError, smtplib.SMTPException):
                self.abort()
            return SmtpOutcome(status, code, text, stage, transcript=log)

        try:
            try:
                code, resp = smtp.mail(mail_from)
            except smtplib.SMTPServerDisconnected:
                # The server dropped a connection we thought alive: nothing was sent yet.
                self.abort()
                smtp = self._session()
                code, resp = smtp.mail(mail_from)
            if (bad := step("mail", code, resp, (250,))) is not None:
                return bad
            for rcpt in recipients:
                code, resp = smtp.rcpt(rcpt)
                if (bad := step("rcpt", code, resp, (250, 251))) is not None:
                    return bad
            code, resp = smtp.docmd("DATA")
            if (bad := step("data", code, resp, (354,))) is not None:
                return bad
            smtp.send(dot_stuffed(data))
        except (OSError, smtplib.SMTPException) as exc:
            self.abort()
            return SmtpOutcome("temporary", -1, f"connection failed: {exc}", "connect",
                               transcript=log)

        dot: dict[str, object] = {"sent": False, "error": None}

        def send_dot() -> None:
            try:
                smtp.send(b".\r\n")
                dot["sent"] = True
            except (OSError, smtplib.SMTPException) as exc:
                dot["error"] = exc

        try:
            copy_stored = commit_with(send_dot)
        except BaseException:
            if not dot["sent"]:
                self.abort()
            raise
        if not dot["sent"]:
            self.abort()
            log.append(f"end: the final dot could not be written ({dot['error']})")
            return SmtpOutcome("temporary", -1, f"connection lost before the end of data: "
                               f"{dot['error']}", "end", transcript=log, copy_stored=copy_stored)
        try:
            code, resp = smtp.getreply()
        except (OSError, smtplib.SMTPException) as exc:
            # The dot reached the server's socket: like the reconciliation (a copy exists),
            # count it as sent, flagged as unconfirmed.
            self.abort()
            log.append(f"end: connection lost ({exc})")
            return SmtpOutcome("accepted", -1, f"connection lost after the end of data: {exc}",
                               "end", accepted_at=now(), unconfirmed=True, transcript=log,
                               copy_stored=copy_stored)
        accepted_at = now()
        text = _text(resp)
        log.append(f"end: {code} {text}")
        if 200 <= code < 300:
            return SmtpOutcome("accepted", code, text, "end", accepted_at=accepted_at,
                               transcript=log, copy_stored=copy_stored)
        status = "temporary" if 400 <= code < 500 else "permanent"
        return SmtpOutcome(status, code, text, "end", transcript=log, copy_stored=copy_stored)


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _text(resp: bytes | str) -> str:
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", "replace")
    return " ".join(resp.split())
