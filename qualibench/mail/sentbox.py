"""The persona's Sent folder over IMAP: the copy a mail client keeps, and our reconciliation key.

A copy is APPENDed unread before the SMTP final dot and marked read (\\Seen, as a mail client
keeps its sent mail) once the SMTP server has accepted the message. So after a kill a read copy
proves the delivery; an unread one only says the dot may or may not have gone out (the kill fell
between the copy and the server's answer): its outcome is unknown, never counted as sent.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from ..campaign.spec import AccountSpec
from ..channels.reuse import current_park
from ..clock import ensure_utc
from ..errors import RemoteFailure
from .smtp import IDLE_CHECK_SECONDS, check_transport, client_tls_context, nodelay

IMAP_ERRORS = (IMAPClientError, imaplib.IMAP4.error, OSError, socket.timeout, ssl.SSLError)


@dataclass(frozen=True)
class SentCopy:
    """One message found in the Sent folder."""

    uid: int
    internal_date: datetime  # aware; the time we gave at APPEND (just before the final dot)
    delivered: bool = True  # read: marked once the SMTP server accepted the message


@dataclass(frozen=True)
class AppendedCopy:
    """What `append_then` left in the Sent folder."""

    stored: bool  # the server said OK to the APPEND
    uid: int | None = None  # from APPENDUID (UIDPLUS); None when the server does not say


class SentFolder:
    """A connection to one account's Sent folder, opened on first use."""

    def __init__(
        self, account: AccountSpec, *, insecure: bool = False, timeout: float = 60.0
    ) -> None:
        self.account = account
        self.insecure = insecure
        self.timeout = timeout
        self._client: IMAPClient | None = None
        self._folder: str | None = None
        self._selected: str | None = None  # "rw", "ro" or None: how the folder is selected

    # -- connection -------------------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        acc = self.account
        password = acc.password()
        check_transport(
            "imap",
            acc.name,
            acc.imap_host,
            acc.imap_security,
            has_credentials=bool(acc.username),
            insecure=self.insecure,
        )
        port = acc.imap_port or (993 if acc.imap_security == "tls" else 143)
        try:
            client = IMAPClient(
                acc.imap_host,
                port=port,
                ssl=acc.imap_security == "tls",
                ssl_context=client_tls_context(),
                timeout=self.timeout,
            )
            client.normalise_times = False
            nodelay(client.socket())
            if acc.imap_security == "starttls":
                client.starttls(client_tls_context())
                nodelay(client.socket())
            client.login(acc.username, password)
        except IMAP_ERRORS as exc:
            raise RemoteFailure(
                f"cannot open the Sent folder of account {acc.name!r} on "
                f"{acc.imap_host}:{port}: {exc}",
                "check imap_host/imap_port/imap_security and the password; "
                "a rerun resumes where it stopped",
            ) from None
        return client

    def _park_key(self) -> tuple:
        acc = self.account
        return ("imap", acc.imap_host, acc.imap_port, acc.imap_security, acc.username,
                acc.sent_folder)

    def _unpark(self) -> None:
        park = current_park()
        parked = park.take(self._park_key()) if park is not None else None
        if parked is None:
            return
        (client, folder), idle = parked
        if idle >= IDLE_CHECK_SECONDS:
            try:
                client.noop()  # idle a while: the server may have dropped it
            except IMAP_ERRORS:
                with contextlib.suppress(*IMAP_ERRORS):
                    client.shutdown()
                return
        self._client, self._folder = client, folder
        self._selected = None  # a parked connection may have been left in any state

    def _ensure(self) -> tuple[IMAPClient, str]:
        if self._client is None:
            self._unpark()
        if self._client is None:
            self._client = self._connect()
            self._folder = None
            self._selected = None
        if self._folder is None:
            self._folder = self._resolve_folder(self._client)
        return self._client, self._folder

    def _resolve_folder(self, client: IMAPClient) -> str:
        wanted = self.account.sent_folder or "Sent"
        if client.folder_exists(wanted):
            return wanted
        special = client.find_special_folder(b"\\Sent")
        if special:
            return special
        # A mail client creates its Sent folder on first use; so do we.
        client.create_folder(wanted)
        return wanted

    def _call(self, what: str, fn):  # type: ignore[no-untyped-def]
        """Run fn(client, folder), reconnecting once if the server dropped the connection."""
        for attempt in (1, 2):
            client, folder = self._ensure()
            try:
                return fn(client, folder)
            except IMAP_ERRORS as exc:
                self.abort()
                if attempt == 2:
                    raise RemoteFailure(
                        f"IMAP {what} in the Sent folder of account {self.account.name!r} "
                        f"failed: {exc}",
                        "check the IMAP server; a rerun resumes where it stopped",
                    ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._client is not None:
            park = current_park()
            if park is not None:  # a later run of this process takes it back
                park.park(self._park_key(), (self._client, self._folder), _logout)
            else:
                _logout((self._client, self._folder))
            self._client = None
            self._selected = None

    def abort(self) -> None:
        if self._client is not None:
            with contextlib.suppress(*IMAP_ERRORS):
                self._client.shutdown()
            self._client = None
            self._selected = None

    def _select(self, client: IMAPClient, folder: str, *, write: bool) -> None:
        # Selected once and kept: a STORE after every message would otherwise cost a SELECT.
        if self._selected == "rw" or (self._selected == "ro" and not write):
            return
        client.select_folder(folder, readonly=not write)
        self._selected = "rw" if write else "ro"

    # -- operations -------------------------------------------------------------------------

    def append(self, raw: bytes, when: datetime) -> None:
        """Store `raw` in the Sent folder, read, with INTERNALDATE `when`."""
        when = ensure_utc(when)
        self._call("APPEND", lambda c, f: c.append(f, raw, flags=[b"\\Seen"], msg_time=when))

    def append_then(self, raw: bytes, when: datetime, then: Callable[[], None]) -> AppendedCopy:
        """APPEND `raw` unread and call `then` the moment the server holds the whole message.

        `then` runs before the server's answer is read, so the gap between the copy becoming
        complete on the server and `then` (the SMTP final dot) is a few microseconds, not a
        round trip. Returns whether the server stored the copy (and its UID): the caller marks
        it read with `mark_delivered` once the SMTP server accepted the message. An error before
        `then` runs raises (nothing was committed); after it, the result says "not stored" and
        nothing raises, since the caller's message has gone out by then.

        imapclient has no split APPEND, so this drives the stdlib imaplib connection under it
        (`_command` / `_command_complete`, unchanged since Python 2).
        """
        when = ensure_utc(when)
        literal = re.sub(rb"\r\n|\r|\n", b"\r\n", raw)
        for attempt in (1, 2):
            client, folder = self._ensure()
            imap = client._imap
            try:
                imap.literal = literal
                # No flags: unread until the SMTP server's acceptance is known (mark_delivered).
                tag = imap._command("APPEND", client._normalise_folder(folder),
                                    imaplib.Time2Internaldate(when))
            except IMAP_ERRORS as exc:
                self.abort()
                if attempt == 2:
                    raise RemoteFailure(
                        f"IMAP APPEND to the Sent folder of account {self.account.name!r} "
                        f"failed: {exc}", "check the IMAP server; a rerun resumes") from None
                continue
            if imap.tagged_commands.get(tag):  # refused before taking the literal
                typ, data = imap.tagged_commands[tag]
                raise RemoteFailure(
                    f"the IMAP server refused to store the Sent copy (account "
                    f"{self.account.name!r}): {typ} {_words(data)}",
                    "check the Sent folder (quota, rights, name in sent_folder)")
            then()
            try:
                typ, data = imap._command_complete("APPEND", tag)
            except IMAP_ERRORS:
                self.abort()
                return AppendedCopy(False)
            return AppendedCopy(typ == "OK", _append_uid(data) if typ == "OK" else None)
        raise AssertionError("unreachable")

    def mark_delivered(self, copy: AppendedCopy, message_id: str) -> None:
        """Mark the copy read: the SMTP server accepted its message (the proof `find` reads)."""

        def store(client: IMAPClient, folder: str) -> None:
            self._select(client, folder, write=True)
            uids = [copy.uid] if copy.uid else client.search(["HEADER", "Message-ID", message_id])
            if uids:
                client.add_flags(uids, [b"\\Seen"], silent=True)

        self._call("STORE", store)

    def find(self, message_id: str) -> SentCopy | None:
        """Return the copy whose Message-ID header is `message_id`, or None if there is none."""

        def search(client: IMAPClient, folder: str) -> SentCopy | None:
            self._select(client, folder, write=False)
            client.noop()  # the copies appended since the folder was selected
            uids = client.search(["HEADER", "Message-ID", message_id])
            if not uids:
                return None
            data = client.fetch(uids, ["INTERNALDATE", "FLAGS"])
            # A read copy proves the delivery (several copies: a rerun after a refusal, or
            # a server that files its own copy of what it accepted).
            read = [u for u in sorted(data) if b"\\Seen" in data[u].get(b"FLAGS", ())]
            uid = (read or sorted(uids))[0]
            when = data.get(uid, {}).get(b"INTERNALDATE")
            if not isinstance(when, datetime) or when.tzinfo is None:
                raise RemoteFailure(
                    f"the Sent copy of {message_id} has no usable INTERNALDATE ({when!r})",
                    "check the IMAP server",
                )
            return SentCopy(uid, ensure_utc(when), delivered=bool(read))

        return self._call("SEARCH", search)

    def remove(self, message_id: str) -> int:
        """Delete the copies of `message_id` (a message the server refused); return how many."""

        def delete(client: IMAPClient, folder: str) -> int:
            self._select(client, folder, write=True)
            uids = client.search(["HEADER", "Message-ID", message_id])
            if uids:
                client.delete_messages(uids)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()
            return len(uids)

        return self._call("STORE", delete)


def _append_uid(data: object) -> int | None:
    """Return the UID of an APPENDUID response code ("[APPENDUID 38505 3955] ..."), or None."""
    m = re.search(rb"\[APPENDUID \d+ (\d+)\]", b" ".join(
        d if isinstance(d, bytes) else str(d).encode() for d in (data or [])))
    return int(m.group(1)) if m else None


def _logout(parked: tuple[IMAPClient, str | None]) -> None:
    with contextlib.suppress(*IMAP_ERRORS):
        parked[0].logout()


def _words(data: object) -> str:
    if isinstance(data, list | tuple):
        return " ".join(_words(d) for d in data)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)
