"""A real Dovecot 2.3 IMAP server for integration tests, started from a config in a temp dir.

Dovecot refuses to run mail processes as root, so the whole server runs as an unprivileged
user: the current one when the tests do not run as root, otherwise `nobody` (present on every
Debian system, so CI needs no useradd). Storage is maildir under the temp dir, so a test (or
the benchmark) can also deliver messages by writing files into `new/`, which is far faster than
APPEND.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
PASSWORD = "dovecot-test-pw"  # static passdb: every user has this password


@dataclass
class DovecotServer:
    host: str
    port: int
    root: Path
    password: str
    uid: int
    gid: int

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """Return the maildir of `user`'s `folder` (Maildir++ layout: INBOX is the root)."""
        base = self.root / "home" / user / "Maildir"
        return base if folder == "INBOX" else base / f".{folder}"

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX", name: str | None = None,
                mtime: float | None = None) -> Path:
        """Drop `raw` into `folder`'s new/ as a delivery agent would; return the file path.

        Dovecot takes a new/ file's mtime as its INTERNALDATE, so `mtime` sets the received time.
        """
        box = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        name = name or f"{time.time_ns()}.{os.getpid()}_{id(raw)}.qbtest"
        tmp = box / "tmp" / name
        tmp.write_bytes(raw)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        target = box / "new" / name
        os.replace(tmp, target)
        self.fix_owner()
        return target

    def fix_owner(self) -> None:
        """Hand everything written by the (root) test process back to the server's user."""
        if os.geteuid() != 0:
            return
        for dirpath, _dirnames, filenames in os.walk(self.root / "home"):
            os.chown(dirpath, self.uid, self.gid)
            for n in filenames:
                os.chown(os.path.join(dirpath, n), self.uid, self.gid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> pwd.struct_passwd:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    return pwd.getpwnam("nobody")


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = qbtest-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
imap_idle_notify_interval = 1 secs
# A refused login is answered at once: the 2 s anti-guessing pause would only slow the tests
# of qualibench's own retry and back-off, which never depend on the server's pause.
auth_failure_delay = 0
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Junk {{
    special_use = \\Junk
    auto = create
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
}}
service auth {{
  user = $default_internal_user
}}
service anvil {{
  chroot =
}}
"""


def start_dovecot(root: Path) -> tuple[DovecotServer, subprocess.Popen]:
    """Start Dovecot on a free loopback port with its state under `root`; wait until it answers."""
    who = _run_as()
    import grp

    group = grp.getgrgid(who.pw_gid).gr_name
    port = _free_port()
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "dovecot.conf"
    conf.write_text(CONFIG.format(root=root, port=port, user=who.pw_name, group=group,
                                  uid=who.pw_uid, gid=who.pw_gid, password=PASSWORD))
    server = DovecotServer("127.0.0.1", port, root, PASSWORD, who.pw_uid, who.pw_gid)
    if os.geteuid() == 0:
        for dirpath, _dirs, files in os.walk(root):
            os.chown(dirpath, who.pw_uid, who.pw_gid)
            for n in files:
                os.chown(os.path.join(dirpath, n), who.pw_uid, who.pw_gid)
    kwargs: dict = {}
    if os.geteuid() == 0:
        kwargs.update(user=who.pw_uid, group=who.pw_gid, extra_groups=[])
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, **kwargs)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            log = (root / "dovecot.log").read_text(errors="replace") if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited early: {out}\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(200).startswith(b"* OK"):
                    return server, proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("dovecot did not answer within 15 s")


def stop_dovecot(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture
def dovecot_server() -> Iterator[DovecotServer]:
    """A Dovecot IMAP server on 127.0.0.1 (ssl = no); any user name logs in with `.password`."""
    if not os.path.exists(DOVECOT):
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd); .ci/run installs it")
    # Not under pytest's tmp_path: that tree is private to root and the server user must reach it.
    root = Path(tempfile.mkdtemp(prefix="qb-dovecot-"))
    os.chmod(root, 0o755)
    try:
        server, proc = start_dovecot(root)
    except RuntimeError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        _stop_in_background(proc, root)


# Dovecot's master sleeps a second after SIGTERM before it exits. The next test need not wait
# for it: its own server has another port and folder. The stops run in threads, each removing
# its folder once its server is gone, and the session waits for them all before it ends.
_STOPPING: list[threading.Thread] = []


def _stop_in_background(proc: subprocess.Popen, root: Path) -> None:
    def stop() -> None:
        stop_dovecot(proc)
        shutil.rmtree(root, ignore_errors=True)

    thread = threading.Thread(target=stop, name=f"stop-dovecot-{proc.pid}")
    thread.start()
    _STOPPING.append(thread)


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    """Wait for every Dovecot stopped in the background: none outlives the test run."""
    while _STOPPING:
        _STOPPING.pop().join()
