"""`collect` with nothing new, told apart before the ORM is imported.

Most `collect` runs (cron, a shell loop) find nothing: importing SQLAlchemy, the models and the
parser then costs ten times the IMAP round trips. So every full collect leaves, in the campaign
folder, what it ended on (`record`): per folder its UIDVALIDITY and last UID collected, the
event log's head, the first window still open, and a fingerprint of campaign.toml and of the
database URL. The next run (`quick_report`) compares that with the server (LIST, then STATUS
UIDVALIDITY UIDNEXT per folder, over imaplib) and with the database (one indexed read of the
head, stdlib sqlite3 or psycopg) and, when nothing moved, answers "nothing new" itself.

Anything it does not understand or cannot check -- API channels, a keyring password, a folder
name in modified UTF-7, a server error, a window that has closed since, a pending message, any
event logged since (a send, an inbox assignment, a review decision) -- sends the run down the
full path, which is the one that reports errors. A full collect removes the record first, so a
run that dies leaves none behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import imaplib
import ipaddress
import json
import os
import re
import socket
import ssl
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .folders import choose_folders

STATE_FILE = ".qualibench-collect-state.json"
VERSION = 1
_DB_ENV = "QUALIBENCH_DB_URL"
_CAMPAIGN_ID_ENV = "QUALIBENCH_CAMPAIGN_ID"
_TIMEOUT = 30.0


def _fingerprint(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def db_url_of(folder: Path, url: str | None) -> str:
    """Return the URL `db.resolve_url` gives (same order: --db, $QUALIBENCH_DB_URL, the file)."""
    chosen = url or os.environ.get(_DB_ENV)
    if chosen:
        if chosen.startswith("postgresql://"):
            chosen = "postgresql+psycopg://" + chosen[len("postgresql://"):]
        return chosen
    return f"sqlite:///{folder / 'qualibench.sqlite'}"


def forget(folder: Path) -> None:
    """Remove the record: a full collect is under way, the last one no longer describes it."""
    (folder / STATE_FILE).unlink(missing_ok=True)


def record(folder: Path, *, db_url: str, campaign_option: int | None, campaign_id: int,
           head: int, window_ends_at: datetime | None, accounts: list[dict[str, Any]]) -> None:
    """Write what a full collect ended on (see the module's docstring); `accounts` holds, per
    IMAP account, its connection settings (no password) and [folder, uidvalidity, last uid]."""
    spec = folder / "campaign.toml"
    try:
        data = {
            "version": VERSION, "db": _fingerprint(db_url), "campaign_option": campaign_option,
            "campaign_id": campaign_id, "spec": _fingerprint(spec.read_bytes()), "head": head,
            "window_ends_at": window_ends_at.astimezone(UTC).isoformat() if window_ends_at else None,
            "accounts": accounts,
        }
        tmp = folder / f".{STATE_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, folder / STATE_FILE)
    except OSError:
        pass  # a read-only folder: every run takes the full path


def quick_report(folder: Path, db_option: str | None, campaign_option: int | None) -> dict | None:
    """Return the report of a collect that finds nothing new, or None when the full path must run."""
    started = time.perf_counter()
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        spec = (folder / "campaign.toml").read_bytes()
    except (OSError, ValueError):
        return None
    env_campaign = os.environ.get(_CAMPAIGN_ID_ENV, "").strip()
    if campaign_option is None and env_campaign:
        if not env_campaign.isdigit():
            return None
        campaign_option = int(env_campaign)
    if not isinstance(state, dict) or state.get("version") != VERSION \
            or state.get("db") != _fingerprint(db_url_of(folder, db_option)) \
            or state.get("campaign_option") != campaign_option \
            or state.get("spec") != _fingerprint(spec):
        return None
    if state.get("window_ends_at") and datetime.now(UTC) >= datetime.fromisoformat(state["window_ends_at"]):
        return None  # a window has closed since: the full path censors it
    lock = os.open(folder / ".qualibench-collect.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # another collect runs: the full path says so
        if _database_moved(db_url_of(folder, db_option), state):
            return None
        folders: list[dict] = []
        for account in state.get("accounts") or []:
            seen = _folders_unchanged(account)
            if seen is None:
                return None
            folders.extend(seen)
    finally:
        os.close(lock)
    return {
        "folders": folders, "api_items": 0, "new": 0, "processed": 0, "matched": 0,
        "unmatched": 0, "unparseable": 0, "needs_review": 0, "censored": 0, "by_kind": {},
        "warnings": [], "seconds": round(time.perf_counter() - started, 3),
    }


def _database_moved(db_url: str, state: dict) -> bool:
    """True when the event log moved since the record, a message is pending, or we cannot tell."""
    sql_head = "SELECT seq FROM eventhead WHERE campaign_id = {p}"
    sql_pending = "SELECT count(*) FROM inboundmessage WHERE campaign_id = {p} AND status = 'pending'"
    campaign_id = state.get("campaign_id")
    try:
        if db_url.startswith("sqlite:///"):
            import sqlite3

            path = db_url[len("sqlite:///"):]
            if not path or path.startswith(":memory:") or "?" in path or not Path(path).is_file():
                return True
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                head = con.execute(sql_head.format(p="?"), (campaign_id,)).fetchone()
                pending = con.execute(sql_pending.format(p="?"), (campaign_id,)).fetchone()
            finally:
                con.close()
        elif db_url.startswith("postgresql+psycopg://"):
            import psycopg

            with psycopg.connect("postgresql://" + db_url[len("postgresql+psycopg://"):],
                                 connect_timeout=10) as con:
                head = con.execute(sql_head.format(p="%s"), (campaign_id,)).fetchone()
                pending = con.execute(sql_pending.format(p="%s"), (campaign_id,)).fetchone()
        else:
            return True
    except Exception:  # any database trouble is for the full path to report
        return True
    return head is None or head[0] != state.get("head") or pending is None or pending[0] != 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback
    except (OSError, ValueError):
        return False


_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$', re.IGNORECASE)
_STATUS_ITEM = re.compile(rb"(UIDVALIDITY|UIDNEXT) (\d+)", re.IGNORECASE)


def _folder_name(raw: bytes) -> str | None:
    """Return a LIST name (quoted string or atom); None for what only imapclient decodes."""
    if raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2:
        raw = re.sub(rb"\\(.)", rb"\1", raw[1:-1])
    elif b'"' in raw or b" " in raw:
        return None
    if b"&" in raw:  # modified UTF-7 (RFC 3501 5.1.3): left to imapclient
        return None
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folders_unchanged(account: dict) -> list[dict] | None:
    """Return the account's folder reports when no folder has a new UID, else None."""
    host, security = account.get("host") or "", (account.get("security") or "tls").lower()
    password = os.environ.get(account.get("password_env") or "")
    if not host or not password or (security == "plain" and not _is_loopback(host)):
        return None
    port = account.get("port") or (993 if security == "tls" else 143)
    try:
        if security == "tls":
            conn = imaplib.IMAP4_SSL(host, port, ssl_context=ssl.create_default_context(),
                                     timeout=_TIMEOUT)
        else:
            conn = imaplib.IMAP4(host, port, timeout=_TIMEOUT)
            if security == "starttls":
                conn.starttls(ssl.create_default_context())
    except (OSError, imaplib.IMAP4.error, ssl.SSLError):
        return None
    try:
        conn.login(account.get("username") or "", password)
        typ, data = conn.list()
        if typ != "OK":
            return None
        listed: list[tuple[tuple[bytes, ...], str]] = []
        for line in data or []:
            m = _LIST_LINE.match(line) if isinstance(line, bytes) else None
            name = _folder_name(m.group("name")) if m else None
            if m is None or name is None:
                return None
            listed.append((tuple(m.group("flags").split()), name))
        recorded = account.get("folders") or []
        if choose_folders(listed, account.get("configured") or []) != [f[0] for f in recorded]:
            return None
        reports = []
        for name, uidvalidity, last_uid in recorded:
            started = time.perf_counter()
            typ, data = conn.status(_quoted(name), "(UIDVALIDITY UIDNEXT)")
            items = {k.upper(): int(v) for k, v in _STATUS_ITEM.findall(data[0] or b"")} \
                if typ == "OK" and data and isinstance(data[0], bytes) else {}
            uidnext = items.get(b"UIDNEXT", 0)
            if items.get(b"UIDVALIDITY") != uidvalidity or not uidnext or uidnext > last_uid + 1:
                return None
            reports.append({"account": account["name"], "folder": name, "new": 0, "duplicates": 0,
                            "fetched": 0, "bytes": 0, "resynced": False, "busy": False,
                            "seconds": time.perf_counter() - started})
        return reports
    except (OSError, imaplib.IMAP4.error, ssl.SSLError, ValueError, IndexError):
        return None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error, ssl.SSLError):
            conn.logout()
