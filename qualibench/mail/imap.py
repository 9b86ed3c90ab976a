"""The read-only IMAP collector: new messages per folder, raw bytes stored before any parsing.

Read-only is a promise to the analyst whose mailbox this is: folders are opened with EXAMINE
(select_folder(readonly=True)) and bodies fetched with BODY.PEEK, so \\Seen is never set and
nothing is ever deleted. Per folder the last (UIDVALIDITY, UID) processed is kept in SyncState;
a poll first asks STATUS for UIDNEXT, so a mailbox with nothing new costs one round trip.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import IMAPClientError, LoginError
from sqlmodel import Session, select

from ..errors import QualibenchError, RemoteFailure
from ..events import log_event
from ..models import SyncState
from .folders import choose_folders

if TYPE_CHECKING:
    from ..campaign.spec import AccountSpec
    from ..workspace import Workspace

# A Date header this far from INTERNALDATE is flagged: a wrong clock or a message held back.
DATE_DISAGREEMENT = timedelta(days=1)
# Bodies are fetched in batches of at most this many bytes (a 50 MB attachment goes alone)...
BATCH_BYTES = 8 * 1024 * 1024
# ...and this many messages; sizes and dates are fetched in chunks of HEADER_CHUNK UIDs.
BATCH_MESSAGES = 500
# A message larger than this is fetched in pieces of LARGE_PIECE bytes (partial FETCH) that go
# straight into the evidence store: a 60 MB mail is never held whole in memory.
LARGE_MESSAGE = 4 * 1024 * 1024
LARGE_PIECE = 4 * 1024 * 1024
HEADER_CHUNK = 2000
# RFC 2177: servers may drop an IDLE after 30 minutes; re-issue it well before.
IDLE_REISSUE_SECONDS = 25 * 60

# The Date header line (with its folded continuations) in the raw header block.
_DATE_LINE = re.compile(rb"^Date:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)


@dataclass
class RawMail:
    """One message as fetched: its bytes and what IMAP says about it, nothing parsed yet."""

    raw: bytes  # empty for a large mail already streamed into the evidence store
    uid: int
    received_at: datetime | None
    date_header: datetime | None
    source: str
    source_ref: str
    sha256: str = ""  # set when the bytes are already stored (a large mail, see fetch_large)
    size: int = 0

    @property
    def length(self) -> int:
        return self.size if self.sha256 else len(self.raw)


@dataclass
class FolderReport:
    """What one folder gave in one pass."""

    account: str
    folder: str
    new: int = 0  # InboundMessage rows created
    duplicates: int = 0  # bytes already collected (resync, same message in two folders)
    fetched: int = 0
    bytes: int = 0
    resynced: bool = False  # UIDVALIDITY changed: the folder was read again from the start
    busy: bool = False  # another machine of the team was collecting this folder: left to it
    seconds: float = 0.0


@dataclass
class SyncOutcome:
    reports: list[FolderReport] = field(default_factory=list)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


def connect(account: AccountSpec, *, timeout: float = 30.0) -> IMAPClient:
    """Return an IMAP connection logged in to `account` (times come back timezone-aware)."""
    security = (account.imap_security or "tls").lower()
    if security == "plain" and not _is_loopback(account.imap_host):
        raise QualibenchError(
            f"account {account.name!r} would send its IMAP password in clear to {account.imap_host}",
            'set imap_security = "tls" or "starttls"; plain is only allowed on loopback',
        )
    port = account.imap_port or (993 if security == "tls" else 143)
    where = f"{account.imap_host}:{port}"
    try:
        client = IMAPClient(account.imap_host, port=port, ssl=security == "tls", timeout=timeout)
        if security == "starttls":
            client.starttls(ssl.create_default_context())
    except (OSError, IMAPClientError, ssl.SSLError) as exc:
        raise RemoteFailure(
            f"cannot reach the IMAP server {where} of account {account.name!r}: {exc}",
            "check imap_host, imap_port and imap_security in campaign.toml and that the server runs",
        ) from None
    # INTERNALDATE keeps its offset instead of becoming naive local time.
    client.normalise_times = False
    quiet_imaplib(client)
    try:
        client.login(account.username, account.password())
    except LoginError:
        client.shutdown()
        raise RemoteFailure(
            f"the IMAP server {where} refused the login of {account.username!r}",
            f"check the username and the password of [accounts.{account.name}]",
        ) from None
    return client


def quiet_imaplib(client: IMAPClient) -> None:
    """Stop imaplib formatting a debug line for every response when nobody reads them.

    imapclient sets imaplib's debug level to 5 and sends its lines to a logger: imaplib then
    formats the repr of every line, of every message appended to a response and, once per
    FETCH, of the whole response -- every body fetched -- before the logger drops them at its
    default level. That was about an eighth of a first collect's main process.
    """
    import logging

    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0  # noqa: SLF001  (imapclient's own imaplib connection)


def folders_to_scan(client: IMAPClient, account: AccountSpec) -> list[str]:
    """Return INBOX, the Junk/Spam folders (SPECIAL-USE \\Junk or by name) and configured ones."""
    return choose_folders(((flags, name) for flags, _sep, name in client.list_folders()),
                          account.folders)


def _sync_state(session: Session, campaign_id: int, account: str, folder: str) -> SyncState:
    row = session.exec(
        select(SyncState).where(
            SyncState.campaign_id == campaign_id,
            SyncState.account == account,
            SyncState.folder == folder,
        )
    ).first()
    if row is None:
        row = SyncState(campaign_id=campaign_id, account=account, folder=folder)
    return row


def _to_column(value: int) -> int:
    """Return an unsigned 32-bit IMAP number in the signed range of the INTEGER column.

    UIDVALIDITY and UIDs go up to 2**32 - 1 (Dovecot's UIDVALIDITY is a timestamp, already
    past 2**31 in tests), while SyncState stores INTEGER, signed on PostgreSQL.
    """
    return value - 2**32 if value >= 2**31 else value


def stored_uid(value: int) -> int:
    """Return the unsigned IMAP number kept in a SyncState column (see _to_column)."""
    return value + 2**32 if value < 0 else value


_from_column = stored_uid


def _aware(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # a server without offset: RFC 3501 times are UTC-ish, keep UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def date_header(raw: bytes) -> datetime | None:
    """Return the Date header of raw message bytes as aware UTC (None if absent or unreadable).

    Read straight from the header block so the collector needs no parse before storing.
    """
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    m = _DATE_LINE.search(raw, 0, end if end >= 0 else min(len(raw), 65536))
    if not m:
        return None
    value = " ".join(m.group(1).decode("latin-1").split())
    try:
        plain = _PLAIN_DATE.fullmatch(value)
        if plain is not None:  # what nearly every mailer writes: read without the email package
            return _plain_datetime(plain)
        return _aware(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# "Tue, 1 Dec 2026 09:30:00 +0100" (RFC 5322) and "01-Dec-2026 09:30:00 +0100" (IMAP's
# INTERNALDATE), with a four-digit year and a numeric zone: read by one regex and datetime,
# at a tenth of the email package's cost (two dates a message, a noticeable part of a first
# collect). Any other shape goes to the email package; both give the same datetime.
_PLAIN_DATE = re.compile(r"(?:[A-Za-z]{3}, ?)?(\d{1,2})[ -]([A-Za-z]{3})[ -](\d{4}) (\d{2}):(\d{2})"
                         r"(?::(\d{2}))? ([+-])(\d{2})(\d{2})")
_MONTHS = {m: k for k, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep",
                                        "oct", "nov", "dec"), 1)}
_ZONES: dict[tuple[str, str, str], timezone] = {}


def _plain_datetime(m: re.Match) -> datetime | None:
    day, month, year, hour, minute, second, sign, zh, zm = m.groups()
    number = _MONTHS.get(month.lower())
    if number is None:
        raise ValueError(f"unknown month {month!r}")
    zone = _ZONES.get((sign, zh, zm))
    if zone is None:
        offset = int(zh) * 3600 + int(zm) * 60
        zone = _ZONES.setdefault((sign, zh, zm), timezone(timedelta(seconds=-offset if sign == "-" else offset)))
    when = datetime(int(year), number, int(day), int(hour), int(minute), int(second or 0), tzinfo=zone)
    return when.astimezone(UTC)


def _batches(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    batch: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if batch and (total + size > BATCH_BYTES or len(batch) >= BATCH_MESSAGES):
            yield batch
            batch, total = [], 0
        batch.append(uid)
        total += size
    if batch:
        yield batch


_FETCH_UID = re.compile(rb"\bUID (\d+)", re.IGNORECASE)
_FETCH_DATE = re.compile(rb'INTERNALDATE "([^"]+)"', re.IGNORECASE)
_FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)", re.IGNORECASE)


def fetch_meta(client: IMAPClient, uids: list[int]) -> dict[int, tuple[datetime | None, int]]:
    """Return {uid: (INTERNALDATE as aware UTC, RFC822.SIZE)} for `uids` of the selected folder.

    Read from the plain response lines (see fetch_bodies for why); anything not understood
    is fetched again through imapclient.
    """
    imap = getattr(client, "_imap", None)
    found: dict[int, tuple[datetime | None, int]] = {}
    if imap is not None:
        typ, data = imap.uid("FETCH", ",".join(map(str, uids)), "(UID INTERNALDATE RFC822.SIZE)")
        for line in (data or []) if typ == "OK" else []:
            if not isinstance(line, bytes):
                continue
            uid, date, size = _FETCH_UID.search(line), _FETCH_DATE.search(line), _FETCH_SIZE.search(line)
            if uid and date and size:
                try:
                    plain = _PLAIN_DATE.fullmatch(date.group(1).decode("latin-1").strip())
                    when = (_plain_datetime(plain) if plain is not None else
                            _aware(parse_to_datetime(date.group(1), normalise=False)))
                except ValueError:
                    continue
                found[int(uid.group(1))] = (when, int(size.group(1)))
    missing = [u for u in uids if u not in found]
    if missing:
        for uid, item in client.fetch(missing, ["INTERNALDATE", "RFC822.SIZE"]).items():
            found[uid] = (_aware(item.get(b"INTERNALDATE")), int(item.get(b"RFC822.SIZE", 0)))
    return found


def fetch_bodies(client: IMAPClient, uids: list[int]) -> dict[int, bytes]:
    """Return {uid: raw bytes} for `uids` of the selected folder, fetched with BODY.PEEK[].

    imapclient tokenises a FETCH response in pure Python, which made it a third of the time
    of a first sync; the bodies come back here through its own imaplib connection, where a
    literal is one read. Anything not understood is fetched again the imapclient way.
    """
    imap = getattr(client, "_imap", None)
    found: dict[int, bytes] = {}
    if imap is not None:
        typ, data = imap.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        if typ == "OK":
            items = list(data or [])
            for i, item in enumerate(items):
                if not isinstance(item, tuple) or len(item) != 2:
                    continue
                m = _FETCH_UID.search(item[0])
                if m is None and i + 1 < len(items) and isinstance(items[i + 1], bytes):
                    m = _FETCH_UID.search(items[i + 1])  # servers may send UID after the body
                if m is not None:
                    found[int(m.group(1))] = item[1]
    missing = [u for u in uids if u not in found]
    if missing:
        for uid, item in client.fetch(missing, ["BODY.PEEK[]"]).items():
            if b"BODY[]" in item:
                found[uid] = item[b"BODY[]"]
    return found


def fetch_pieces(client: IMAPClient, uid: int, piece: int = LARGE_PIECE) -> Iterator[bytes]:
    """Yield the raw bytes of message `uid` of the selected folder in pieces of `piece` bytes
    (BODY.PEEK[]<offset.length>, RFC 3501 6.4.5), until a short piece says the end is reached."""
    imap = client._imap  # noqa: SLF001  (a literal is one read there, see fetch_bodies)
    offset = 0
    while True:
        typ, data = imap.uid("FETCH", str(uid), f"(UID BODY.PEEK[]<{offset}.{piece}>)")
        if typ != "OK":
            raise IMAPClientError(f"partial FETCH of UID {uid} at {offset} failed: {data!r}")
        got = next((item[1] for item in data or [] if isinstance(item, tuple) and len(item) == 2), None)
        if got is None:
            if offset == 0:
                raise IMAPClientError(f"partial FETCH of UID {uid} gave no body")
            return  # NIL past the end: the last piece was exactly `piece` long
        if got:
            yield got
        if len(got) < piece:
            return
        offset += len(got)


def sync_folder(
    ws: Workspace,
    client: IMAPClient,
    campaign_id: int,
    account: str,
    folder: str,
    store: Callable[[Session, list[RawMail]], tuple[int, int]],
    *,
    progress: Callable[[str, int, int], None] | None = None,
    durable: Callable[[], None] | None = None,
    coming: Callable[[int], None] | None = None,
    hand: Hand | None = None,
) -> FolderReport:
    """Fetch the messages of `folder` newer than its SyncState and hand them to `store`.

    `store(session, batch)` must persist the batch (evidence first) and return (new, duplicates);
    the SyncState moves forward in the same transaction, so a crash loses nothing and a rerun
    re-fetches at most one batch, which `store` recognises by its hash. `durable()` is called
    once that transaction has committed (the collector then starts processing the batch).
    `coming(n)` is told how many messages are to be fetched, before the first is (the
    collector starts its parser workers then, while it fetches).

    With `hand` (a first collect's pipeline), each batch goes to `hand.take(batch, mark)`
    instead, with no transaction here: the taker stores the bytes durably and writes the rows,
    in their final state, in the transactions that move the SyncState to `mark`; `hand.finish()`
    is called before this returns (while the folder is still this machine's) and gives
    (new, duplicates).
    """
    started = time.perf_counter()
    report = FolderReport(account=account, folder=folder)
    source = f"imap:{account}/{folder}"
    status = client.folder_status(folder, [b"UIDVALIDITY", b"UIDNEXT"])
    uidvalidity = int(status[b"UIDVALIDITY"])
    uidnext = int(status.get(b"UIDNEXT", 0) or 0)
    with ws.session() as session:
        state = _sync_state(session, campaign_id, account, folder)
        last_uid = _from_column(state.last_uid)
        known_validity = _from_column(state.uidvalidity)
        if known_validity and known_validity != uidvalidity:
            # UIDs of the old validity mean nothing now: read the folder again from the start;
            # messages already collected are recognised by their SHA-256 and not duplicated.
            report.resynced = True
            log_event(
                session,
                campaign_id,
                "imap.uidvalidity_changed",
                source,
                {"old": known_validity, "new": uidvalidity},
                ws.clock,
            )
            last_uid = 0
        if known_validity == uidvalidity and uidnext and uidnext <= last_uid + 1:
            report.seconds = time.perf_counter() - started
            return report  # nothing new: one STATUS was enough
        state.uidvalidity = _to_column(uidvalidity)
        state.last_uid = _to_column(last_uid)
        state.updated_at = ws.clock.now()
        session.add(state)

    client.select_folder(folder, readonly=True)
    uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    if not uids:
        report.seconds = time.perf_counter() - started
        return report
    if coming is not None:
        coming(len(uids))
    meta: dict[int, tuple[datetime | None, int]] = {}
    for i in range(0, len(uids), HEADER_CHUNK):
        meta.update(fetch_meta(client, uids[i : i + HEADER_CHUNK]))
    uids = [u for u in uids if u in meta]  # expunged between SEARCH and FETCH
    try:
        _fetch_batches(ws, client, campaign_id, account, folder, uids, meta, uidvalidity, report,
                       store, progress, durable, hand)
    except (OSError, IMAPClientError):
        if hand is not None:
            hand.finish()  # what was fetched before the server failed is recorded
        raise
    if hand is not None:
        new, dupes = hand.finish()
        report.new += new
        report.duplicates += dupes
    report.seconds = time.perf_counter() - started
    return report


def _fetch_batches(ws: Workspace, client: IMAPClient, campaign_id: int, account: str, folder: str,
                   uids: list[int], meta: dict[int, tuple[datetime | None, int]], uidvalidity: int,
                   report: FolderReport, store: Callable[[Session, list[RawMail]], tuple[int, int]],
                   progress: Callable[[str, int, int], None] | None, durable: Callable[[], None] | None,
                   hand: Hand | None) -> None:
    source = f"imap:{account}/{folder}"
    sizes = {u: meta[u][1] for u in uids}
    done = 0
    for batch_uids in _batches(uids, sizes):
        small = [u for u in batch_uids if sizes[u] <= LARGE_MESSAGE]
        bodies = fetch_bodies(client, small) if small else {}
        batch: list[RawMail] = []
        for uid in batch_uids:
            if sizes[uid] > LARGE_MESSAGE:
                mail = _fetch_large(ws, client, uid)
                if mail is None:
                    continue  # expunged meanwhile
                mail.received_at, mail.source = meta[uid][0], source
                mail.source_ref = f"{uidvalidity}:{uid}"
                batch.append(mail)
                report.bytes += mail.size
                continue
            raw = bodies.get(uid)
            if raw is None:
                continue  # expunged meanwhile
            batch.append(
                RawMail(
                    raw=raw,
                    uid=uid,
                    received_at=meta[uid][0],
                    date_header=date_header(raw),
                    source=source,
                    source_ref=f"{uidvalidity}:{uid}",
                )
            )
            report.bytes += len(raw)
        if hand is not None:
            hand.take(batch, SyncMark(campaign_id, account, folder, uidvalidity, batch_uids[-1]))
        else:
            with ws.session() as session:
                new, dupes = store(session, batch)
                advance(session, SyncMark(campaign_id, account, folder, uidvalidity, batch_uids[-1]),
                        ws.clock.now())
            if durable is not None:
                durable()
            report.new += new
            report.duplicates += dupes
        report.fetched += len(batch)
        done += len(batch_uids)
        if progress:
            progress(f"{account}/{folder}", done, len(uids))


@dataclass(frozen=True)
class SyncMark:
    """Where a folder's SyncState moves once a batch is stored: its last UID fetched."""

    campaign_id: int
    account: str
    folder: str
    uidvalidity: int
    last_uid: int


class Hand:
    """What takes a first collect's batches instead of `store` (see sync_folder)."""

    def take(self, batch: list[RawMail], mark: SyncMark) -> None:
        raise NotImplementedError

    def finish(self) -> tuple[int, int]:
        raise NotImplementedError


def advance(session: Session, mark: SyncMark, now: datetime) -> None:
    """Move the folder's SyncState to `mark` in the caller's transaction (never backwards)."""
    state = _sync_state(session, mark.campaign_id, mark.account, mark.folder)
    state.uidvalidity = _to_column(mark.uidvalidity)
    state.last_uid = _to_column(max(_from_column(state.last_uid), mark.last_uid))
    state.updated_at = now
    session.add(state)


def _fetch_large(ws: Workspace, client: IMAPClient, uid: int) -> RawMail | None:
    """Stream one large message into the evidence store piece by piece; give its RawMail (the
    bytes stored, none held), or None when it was expunged before its first piece."""
    head: list[bytes] = []

    def pieces() -> Iterator[bytes]:
        for piece in fetch_pieces(client, uid):
            if not head:
                head.append(piece[:65536])  # the header block, for its Date
            yield piece

    try:
        digest, size = ws.evidence.put_stream(pieces())
    except IMAPClientError as exc:
        if "gave no body" in str(exc):
            return None
        raise
    return RawMail(raw=b"", uid=uid, received_at=None, date_header=date_header(head[0] if head else b""),
                   source="", source_ref="", sha256=digest, size=size)


def sync_account(
    ws: Workspace,
    campaign_id: int,
    account: AccountSpec,
    store: Callable[[Session, list[RawMail]], tuple[int, int]],
    *,
    progress: Callable[[str, int, int], None] | None = None,
    durable: Callable[[], None] | None = None,
    coming: Callable[[int], None] | None = None,
    hand: Hand | None = None,
) -> list[FolderReport]:
    """Return one report per folder scanned in `account` (INBOX and Junk/Spam)."""
    from ..db import advisory_lock, lock_key

    client = connect(account)
    try:
        reports = []
        for folder in folders_to_scan(client, account):
            # One collector per (campaign, account, folder) across the team (PostgreSQL): a
            # folder another machine is reading is left to it; its messages reach everyone.
            with advisory_lock(ws.engine, lock_key("collect", campaign_id, account.name, folder)) as mine:
                if not mine:
                    reports.append(FolderReport(account=account.name, folder=folder, busy=True))
                    continue
                reports.append(sync_folder(ws, client, campaign_id, account.name, folder, store,
                                           progress=progress, durable=durable, coming=coming,
                                           hand=hand))
        return reports
    except (OSError, IMAPClientError) as exc:
        raise RemoteFailure(
            f"the IMAP server of account {account.name!r} failed during collection: {exc}",
            "rerun `qualibench collect`: it resumes after the last message stored",
        ) from None
    finally:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            client.shutdown()


def wait_for_mail(
    account: AccountSpec,
    *,
    timeout: float,
    idle_reissue: float = IDLE_REISSUE_SECONDS,
    poll_seconds: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    last_uid: int | None = None,
    folder: str = "INBOX",
) -> str:
    """Block until `folder` changes or `timeout` passes; return "new", "idle", "poll" or "timeout".

    Uses IDLE (re-issued every `idle_reissue` seconds, before the 29-minute limit) when the
    server offers it, otherwise sleeps `poll_seconds` and lets the caller poll. With
    `last_uid` (the last UID collected), mail that arrived before IDLE began returns "new" at
    once instead of waiting for the next message.
    """
    return wait_for_any([(account, folder, last_uid)], timeout=timeout, idle_reissue=idle_reissue,
                        poll_seconds=poll_seconds, sleep=sleep)


# How often an IDLE-ing connection looks whether another folder already woke the watch.
_IDLE_TICK = 1.0


def wait_for_any(
    targets: list[tuple[AccountSpec, str, int | None]],
    *,
    timeout: float,
    idle_reissue: float = IDLE_REISSUE_SECONDS,
    poll_seconds: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Block until one of the (account, folder, last UID collected) targets changes.

    One connection IDLEs on each folder (IMAP IDLE watches the selected folder only), each in
    a thread; the first change wakes them all. Returns "new" (mail arrived before IDLE began),
    "idle" (a change during IDLE), "poll" (a server without IDLE, or a dropped connection:
    the caller waited `poll_seconds`) or "timeout".
    """
    if not targets:
        sleep(min(poll_seconds, timeout))
        return "poll"
    woke = threading.Event()
    outcomes: list[str] = []
    deadline = time.monotonic() + timeout

    def watch_one(account: AccountSpec, folder: str, last_uid: int | None) -> None:
        try:
            outcome = _idle_on(account, folder, last_uid, deadline, idle_reissue, woke)
        except (OSError, IMAPClientError, QualibenchError):
            outcome = "poll"  # a dropped IDLE: the caller falls back to one polling interval
        outcomes.append(outcome)
        if outcome in ("new", "idle", "poll"):
            woke.set()

    threads = [threading.Thread(target=watch_one, args=target, daemon=True,
                                name=f"idle {target[0].name}/{target[1]}") for target in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(deadline - time.monotonic(), 0) + 30)
    woke.set()  # a thread stuck in a dead socket must not keep the others waiting
    for wanted in ("new", "idle"):
        if wanted in outcomes:
            return wanted
    if "poll" in outcomes:
        sleep(min(poll_seconds, timeout))
        return "poll"
    return "timeout"


def _idle_on(account: AccountSpec, folder: str, last_uid: int | None, deadline: float,
             idle_reissue: float, woke: threading.Event) -> str:
    client = connect(account)
    try:
        if not client.has_capability("IDLE"):
            return "poll"
        selected = client.select_folder(folder, readonly=True)
        uidnext = int(selected.get(b"UIDNEXT", 0) or 0)
        if last_uid is not None and uidnext > last_uid + 1:
            return "new"
        while not woke.is_set() and (left := deadline - time.monotonic()) > 0:
            client.idle()
            issued = time.monotonic()
            try:
                while not woke.is_set() and time.monotonic() - issued < idle_reissue \
                        and (left := deadline - time.monotonic()) > 0:
                    responses = client.idle_check(timeout=min(left, _IDLE_TICK))
                    if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                        return "idle"
            finally:
                client.idle_done()
        return "timeout"
    finally:
        try:
            client.logout()
        except (OSError, IMAPClientError):
            client.shutdown()
