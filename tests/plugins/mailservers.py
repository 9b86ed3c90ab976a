"""Real mail servers in-process on 127.0.0.1, port 0: aiosmtpd (SMTP) and pymap (IMAP, dict backend).

Both run on one background asyncio loop per server, in a daemon thread, so tests talk to them
over real sockets with the real client libraries.

    smtp_server            plain SMTP, no auth; .messages, .host, .port, .answer(...)
    smtp_server_factory    make_smtp(auth=..., starttls=..., implicit_tls=...)
    pymap_server           IMAP with one user (.host, .port, .user, .password, .messages(folder))
    tls_files              a self-signed certificate for 127.0.0.1/localhost (cert, key paths)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
from argparse import Namespace
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# One mailbox account, as a real provider gives: the same login for SMTP and IMAP.
SMTP_USER = IMAP_USER = "marie.durand@shopper.example"
SMTP_PASSWORD = IMAP_PASSWORD = "s3cret-shopper"
PASSWORD_ENV = "QB_TEST_SHOPPER_PASSWORD"


class _LoopThread:
    """An asyncio loop in a daemon thread; `run(coro)` executes a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, server: asyncio.AbstractServer | None = None) -> None:
        """Close `server` (on its own loop: asyncio servers are not thread-safe) and stop."""
        if server is not None:
            self.loop.call_soon_threadsafe(server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


# --- TLS ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> TlsFiles:
    """A self-signed certificate for localhost and 127.0.0.1, generated for this test session."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return TlsFiles(cert_path, key_path)


# --- SMTP ---------------------------------------------------------------------------------

@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    received_at: dt.datetime
    auth_login: str | None = None


@dataclass
class SmtpServer:
    """A recording SMTP server; `answer` makes it refuse chosen recipients."""

    host: str
    port: int
    messages: list[ReceivedMessage] = field(default_factory=list)
    user: str = SMTP_USER
    password: str = SMTP_PASSWORD
    # recipient -> replies to give at RCPT (consumed in order; a last "*" entry repeats)
    rcpt_replies: dict[str, list[str]] = field(default_factory=dict)
    data_replies: dict[str, list[str]] = field(default_factory=dict)
    auth_attempts: list[str] = field(default_factory=list)

    def answer(self, recipient: str, reply: str, *, times: int | None = None,
               at: str = "rcpt") -> None:
        """Make the server answer `reply` for `recipient` (`times` times, or always)."""
        table = self.rcpt_replies if at == "rcpt" else self.data_replies
        table[recipient.lower()] = [reply] * times if times else [reply, "*"]

    def _take(self, table: dict[str, list[str]], rcpt: str) -> str | None:
        queue = table.get(rcpt.lower())
        if not queue:
            return None
        if queue[0] == "*":
            return None
        reply = queue[0]
        if len(queue) > 1 and queue[1] == "*":
            return reply
        queue.pop(0)
        return reply

    def message_ids(self) -> list[str]:
        from email import message_from_bytes

        return [str(message_from_bytes(m.data)["Message-ID"]) for m in self.messages]


class _Recorder:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.server._take(self.server.rcpt_replies, address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        for rcpt in envelope.rcpt_tos:
            reply = self.server._take(self.server.data_replies, rcpt)
            if reply:
                return reply
        self.server.messages.append(ReceivedMessage(
            mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content),
            received_at=dt.datetime.now(dt.UTC),
            auth_login=session.auth_data if session.authenticated else None))
        return "250 2.0.0 Ok: queued"


def _start_smtp(loop: _LoopThread, *, auth: bool, starttls: bool, implicit_tls: bool,
                tls: TlsFiles | None) -> tuple[SmtpServer, asyncio.AbstractServer]:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    record = SmtpServer("127.0.0.1", 0)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode()
            record.auth_attempts.append(login)
            ok = login == record.user and auth_data.password.decode() == record.password
            # handled=False: aiosmtpd then answers 535 itself (True would leave the client waiting)
            return AuthResult(success=ok, handled=False, auth_data=login if ok else None)
        return AuthResult(success=False, handled=False)

    def factory():
        kwargs: dict = {"hostname": "mx.test", "decode_data": False, "enable_SMTPUTF8": True}
        if auth:
            # With STARTTLS, AUTH is only offered after it (as real submission servers do).
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=starttls)
        if starttls:
            assert tls is not None
            kwargs.update(tls_context=tls.server_context(), require_starttls=True)
        return SMTP(_Recorder(record), **kwargs)

    async def start() -> asyncio.AbstractServer:
        ssl_ctx = tls.server_context() if implicit_tls and tls else None
        return await loop.loop.create_server(factory, host="127.0.0.1", port=0, ssl=ssl_ctx)

    server = loop.run(start())
    record.port = server.sockets[0].getsockname()[1]
    return record, server


@pytest.fixture
def smtp_server_factory(tls_files):
    """Return make_smtp(auth=False, starttls=False, implicit_tls=False) -> SmtpServer."""
    started: list[tuple[_LoopThread, asyncio.AbstractServer]] = []

    def make(*, auth: bool = False, starttls: bool = False, implicit_tls: bool = False):
        loop = _LoopThread()
        record, server = _start_smtp(loop, auth=auth, starttls=starttls,
                                     implicit_tls=implicit_tls, tls=tls_files)
        started.append((loop, server))
        return record

    yield make
    for loop, server in started:
        loop.stop(server)


@pytest.fixture
def smtp_server(smtp_server_factory) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1 (no auth, no TLS) recording every message."""
    return smtp_server_factory()


# --- IMAP ---------------------------------------------------------------------------------

@dataclass
class PymapServer:
    """pymap (dict backend) on 127.0.0.1 with one user; read mailboxes with `client()`."""

    host: str
    port: int
    user: str = IMAP_USER
    password: str = IMAP_PASSWORD

    def client(self):
        from imapclient import IMAPClient

        c = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        c.normalise_times = False
        c.login(self.user, self.password)
        return c

    def messages(self, folder: str) -> list[bytes]:
        """Return the raw messages of `folder` (empty when it does not exist)."""
        c = self.client()
        try:
            if not c.folder_exists(folder):
                return []
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            data = c.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [data[u][b"BODY[]"] for u in sorted(data)]
        finally:
            c.logout()

    def append(self, folder: str, raw: bytes, when: dt.datetime | None = None,
               flags: tuple = ()) -> None:
        c = self.client()
        try:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            c.append(folder, raw, flags=flags, msg_time=when)
        finally:
            c.logout()


def _start_pymap(loop: _LoopThread, user: str, password: str) -> tuple[PymapServer, object]:
    from proxyprotocol.reader import ProxyProtocolReader
    from pymap.backend.dict import DictBackend
    from pymap.imap import IMAPServer
    from pysasl.hashing import Cleartext

    args = Namespace(host="127.0.0.1", port=0, debug=False, cert=None, key=None, tls=False,
                     passlib_cfg=None, proxy_protocol=None, inherited_sockets=None,
                     demo_data=False, demo_user=user, demo_password=password,
                     skip_services=[])

    async def start():
        # The user's password is kept as given (as the demo world's server does): pymap's
        # default PBKDF2 costs a quarter second of CPU at start and again at every login.
        backend, config = await DictBackend.init(args, reject_dnsbl=False,
                                                 invalid_user_sleep=0.0, hash_context=Cleartext())
        config.apply_context()
        handler = ProxyProtocolReader(config.proxy_protocol).get_callback(
            IMAPServer(backend.login, config))
        return await asyncio.start_server(handler, host="127.0.0.1", port=0)

    server = loop.run(start())
    return PymapServer("127.0.0.1", server.sockets[0].getsockname()[1], user, password), server


@pytest.fixture
def pymap_server():
    """An in-process pymap IMAP server (dict backend, plain text on loopback) with a test user."""
    loop = _LoopThread()
    record, server = _start_pymap(loop, IMAP_USER, IMAP_PASSWORD)
    yield record
    loop.stop(server)


# --- a campaign wired to these servers ---------------------------------------------------

def mail_account(smtp: SmtpServer, imap: PymapServer, **overrides) -> dict:
    """Return init_campaign's `mail` option pointing the shopper account at the test servers."""
    account = {"username": imap.user, "smtp_host": smtp.host, "smtp_port": smtp.port,
               "smtp_security": "plain", "imap_host": imap.host, "imap_port": imap.port,
               "imap_security": "plain", "password_env": PASSWORD_ENV}
    account.update(overrides)
    return account


def open_send_slots(folder: Path) -> None:
    """Rewrite campaign.toml so that every hour of every day is a send slot."""
    toml = folder / "campaign.toml"
    text = toml.read_text(encoding="utf-8")
    text = text.replace('days = "mon-fri"\nhours = ["09:00-12:00", "14:00-17:00"]',
                        'days = "mon-sun"\nhours = ["00:00-24:00"]')
    toml.write_text(text, encoding="utf-8")


@pytest.fixture
def mail_campaign(tmp_path, db_url, smtp_server, pymap_server, monkeypatch):
    """Return make(brands=3, clock=None, per_domain_seconds=0, **init_options) -> Workspace
    whose shopper account sends through `smtp_server` and keeps copies on `pymap_server`."""
    from tests.factories import make_campaign

    monkeypatch.setenv(PASSWORD_ENV, pymap_server.password)

    def make(*, brands: int = 3, clock=None, per_domain_seconds: float = 0, **options):
        mail = mail_account(smtp_server, pymap_server, **options.pop("mail", {}))
        return make_campaign(tmp_path, db_url, brands=brands, clock=clock, mail=mail,
                             per_domain_seconds=per_domain_seconds, **options)

    return make
