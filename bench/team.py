"""Team throughput on one PostgreSQL: probes sent per second and messages processed per second
with 1, 2 and 3 workers, each a separate process working from its own campaign folder.

    python bench/team.py --db postgresql://postgres@127.0.0.1:55432/postgres [--probes 200]
        [--messages 2000] [--workers 1,2,3]

Sending: K `qualibench send` processes (the installed console script) start at once on the
same planned campaign; an aiosmtpd sink counts deliveries and Dovecot keeps the Sent copies.
Collection processing (parse, match, classify, record): the mailbox is fetched once, then K
workers turn the pending messages into replies at once (SKIP LOCKED claims). The target is
2 workers >= 1.6x one worker on collection processing; the figures are only comparable within
one run, so the load average and the workers' CPU time are printed beside them. A sampler of
pg_stat_activity prints how much of the workers' time in transactions was spent waiting on a
lock (on the event chain's head row in particular): near zero means they do not serialise, and
what is left of the 2x is the CPU they share (with the database and whatever else runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from qualibench.db import dispose_engines, get_engine, resolve_url  # noqa: E402
from qualibench.models import Probe, Reply  # noqa: E402
from tests.plugins.dovecot import start_dovecot, stop_dovecot  # noqa: E402
from tests.resilience.team import Machine, console_script, make_team, team_env  # noqa: E402

SHOPPER = "shopper@team.test"
WORKER = """
import json, sys, time
from qualibench.collecting import process_pending
from qualibench.workspace import Workspace
ws = Workspace.open(sys.argv[1], sys.argv[2])
with ws.session() as s:
    cid = ws.campaign(s).id
started = time.time()
r = process_pending(ws, cid, retry_unmatched=False)
print(json.dumps({"start": started, "end": time.time(), "matched": r.matched}))
"""


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fresh_db(server_url: str, name: str) -> str:
    url = make_url(resolve_url(None, server_url))
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def drop_db(server_url: str, name: str) -> None:
    dispose_engines()
    admin = create_engine(make_url(resolve_url(None, server_url)), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Sink:
    """The tests' aiosmtpd recorder on loopback, counting deliveries by Message-ID."""

    def __init__(self) -> None:
        from tests.plugins.mailservers import _LoopThread, _start_smtp

        self.loop = _LoopThread()
        self.record, self.server = _start_smtp(self.loop, auth=False, starttls=False,
                                               implicit_tls=False, tls=None)
        self.port = self.record.port

    @property
    def ids(self) -> Counter[str]:
        return Counter(self.record.message_ids())

    def stop(self) -> None:
        self.loop.stop(self.server)


class LockWaits:
    """Samples, every 10 ms, what the bench database's sessions are doing (pg_stat_activity):
    the share of in-transaction samples spent waiting on a lock says whether the workers
    serialise on each other (the event chain's head row, a probe) or merely share the CPU."""

    def __init__(self, server_url: str, database: str) -> None:
        import threading

        self.engine = create_engine(make_url(resolve_url(None, server_url)), isolation_level="AUTOCOMMIT")
        self.database = database
        self.busy = self.waiting = self.on_head = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        sql = text("SELECT wait_event_type, query FROM pg_stat_activity "
                   "WHERE datname = :d AND backend_type = 'client backend' "
                   "AND state IN ('active', 'idle in transaction') AND pid <> pg_backend_pid()")
        with self.engine.connect() as c:
            while not self._stop.wait(0.01):
                for wait, query in c.execute(sql, {"d": self.database}):
                    self.busy += 1
                    if wait == "Lock":
                        self.waiting += 1
                        self.on_head += int("eventhead" in (query or ""))

    def summary(self) -> str:
        share = lambda n: f"{100 * n / self.busy:.1f} %" if self.busy else "n/a"  # noqa: E731
        return (f"lock waits {share(self.waiting)} of {self.busy} in-transaction samples "
                f"(on the event head {share(self.on_head)})")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def bench_send(args, tmp: Path, imap, sink: Sink, workers: int) -> float:  # type: ignore[no-untyped-def]
    name = f"qbbench_send_{workers}"
    url = fresh_db(args.db, name)
    try:
        mail = {"username": SHOPPER, "smtp_host": "127.0.0.1", "smtp_port": sink.port,
                "smtp_security": "plain", "imap_host": imap.host, "imap_port": imap.port,
                "imap_security": "plain", "password_env": "QB_TEAM_PASSWORD"}
        env = team_env({"QB_TEAM_PASSWORD": imap.password})
        start = (datetime.now(UTC) - timedelta(days=8)).date()
        folders = make_team(tmp / f"send{workers}", workers, brands=args.probes // 2, scenarios=2,
                            mail=mail, start=start, seed=workers)
        team = [Machine(f, url, env) for f in folders]
        done = team[0].run("plan")
        assert done.returncode == 0, done.stderr
        before, cpu = sum(sink.ids.values()), children_cpu()
        started = time.perf_counter()
        with LockWaits(args.db, name) as waits:
            procs = [m.start("send") for m in team]
            for p in procs:
                _, err = p.communicate(timeout=1800)
                assert p.returncode == 0, err[-1500:]
        wall = time.perf_counter() - started
        with Session(get_engine(url)) as s:
            sent = s.exec(select(func.count()).select_from(Probe).where(Probe.state == "sent")).one()
        twice = sum(1 for n in sink.ids.values() if n > 1)
        print(f"send, {workers} worker(s): {sent} probes in {wall:.1f} s = {sent / wall:.1f} probes/s "
              f"(deliveries {sum(sink.ids.values()) - before}, delivered twice so far {twice}; "
              f"workers' CPU {children_cpu() - cpu:.1f} s; {waits.summary()}; load {load()})", flush=True)
        return sent / wall
    finally:
        drop_db(args.db, name)


def fill_mailbox(imap, folder: Path, url: str, count: int) -> None:  # type: ignore[no-untyped-def]
    """Mark the campaign's probes sent and append `count` replies to them to INBOX."""
    from email.message import EmailMessage
    from email.utils import format_datetime

    rng = random.Random(3)
    with Session(get_engine(url)) as s:
        probes = list(s.exec(select(Probe)))
        for p in probes:
            p.state, p.sent_at = "sent", p.planned_at
            s.add(p)
        s.commit()
        probes = list(s.exec(select(Probe)))
    client = IMAPClient(imap.host, port=imap.port, ssl=False)
    client.login(SHOPPER, imap.password)
    if client.folder_exists("INBOX"):
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
        if uids:
            client.delete_messages(uids)
            client.expunge()
    chunk = []
    for i in range(count):
        p = probes[i % len(probes)]
        when = (p.sent_at or datetime.now(UTC)) + timedelta(minutes=rng.randint(5, 60 * 48))
        msg = EmailMessage()
        msg["From"] = f"Service client <care@{p.key.split(':')[1]}.example>"
        msg["To"] = p.reply_address
        msg["Subject"] = f"RE: {p.subject}"
        msg["Date"] = format_datetime(when)
        msg["Message-ID"] = f"<team.{i}.{rng.getrandbits(32):x}@helpdesk.example>"
        msg["In-Reply-To"] = p.message_id
        msg.set_content(f"Bonjour,\n\nNous sommes désolés pour ce retard. Votre commande {100000 + i} "
                        f"sera livrée demain, nous vous remboursons les frais de port.\n\n"
                        f"Cordialement,\nJulie - Service client\n\n> {p.body[:300]}\n")
        chunk.append({"msg": msg.as_bytes(), "date": when})
        if len(chunk) == 500:
            client.multiappend("INBOX", chunk)
            chunk = []
    if chunk:
        client.multiappend("INBOX", chunk)
    client.logout()


def bench_collect(args, tmp: Path, imap, workers: int) -> float:  # type: ignore[no-untyped-def]
    from qualibench.collecting import store_mail_batch
    from qualibench.mail.imap import sync_account
    from qualibench.workspace import Workspace

    name = f"qbbench_collect_{workers}"
    url = fresh_db(args.db, name)
    try:
        mail = {"username": SHOPPER, "smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_security": "plain",
                "imap_host": imap.host, "imap_port": imap.port, "imap_security": "plain",
                "password_env": "QB_TEAM_PASSWORD"}
        env = team_env({"QB_TEAM_PASSWORD": imap.password})
        os.environ["QB_TEAM_PASSWORD"] = imap.password
        start = (datetime.now(UTC) - timedelta(days=8)).date()
        # About two messages a probe (an acknowledgement, an answer), as a campaign receives.
        folders = make_team(tmp / f"collect{workers}", workers, brands=max(25, args.messages // 4),
                            scenarios=2, mail=mail, start=start, seed=1)
        assert Machine(folders[0], url, env).run("plan").returncode == 0
        fill_mailbox(imap, folders[0], url, args.messages)
        ws = Workspace.open(folders[0], url)
        with ws.session() as s:
            cid = ws.campaign(s).id
        account = ws.spec().config.accounts["shopper"]
        fetched = time.perf_counter()
        stored = sum(f.new for f in sync_account(
            ws, cid, account, lambda session, batch: store_mail_batch(ws, session, cid, batch)))
        fetched = time.perf_counter() - fetched
        cpu = children_cpu()
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(f), url], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for f in folders]
        spans = []
        with LockWaits(args.db, name) as waits:
            for p in procs:
                out, err = p.communicate(timeout=1800)
                if p.returncode != 0:
                    raise SystemExit(f"a worker failed:\n{err[-6000:]}")
                spans.append(json.loads(out.strip().splitlines()[-1]))
        wall = max(s["end"] for s in spans) - min(s["start"] for s in spans)
        with Session(get_engine(url)) as s:
            replies = s.exec(select(func.count()).select_from(Reply)).one()
        rate = replies / wall
        used = children_cpu() - cpu
        print(f"collect processing, {workers} worker(s): {replies} of {stored} messages in {wall:.1f} s "
              f"= {rate:.0f} msg/s (per worker: {[x['matched'] for x in spans]}; fetch+store before: "
              f"{fetched:.1f} s; workers' CPU {used:.1f} s = {1000 * used / max(replies, 1):.1f} ms "
              f"a message; {waits.summary()}; load {load()})", flush=True)
        return rate
    finally:
        drop_db(args.db, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default=os.environ.get("QUALIBENCH_TEST_PG", "postgresql://postgres@127.0.0.1:55432/postgres"),
                    help="a PostgreSQL server URL (databases are created and dropped on it)")
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--workers", default="1,2,3")
    ap.add_argument("--only", choices=("send", "collect"), default=None)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    counts = [int(x) for x in args.workers.split(",")]
    print(f"qualibench: {console_script()}; cores {os.cpu_count()}; load at start {load()}")
    tmp = Path(tempfile.mkdtemp(prefix="qb-team-bench-"))
    os.chmod(tmp, 0o755)
    imap, proc = start_dovecot(tmp / "dovecot")
    sink = Sink()
    try:
        if args.only in (None, "send"):
            rates = {k: bench_send(args, tmp, imap, sink, k) for k in counts}
            base = rates[counts[0]]
            print("send scaling: " + ", ".join(f"{k} workers {r / base:.2f}x" for k, r in rates.items()))
            twice = sum(1 for n in sink.ids.values() if n > 1)
            print(f"send: probes delivered twice over all runs: {twice}")
        if args.only in (None, "collect"):
            rates = {k: bench_collect(args, tmp, imap, k) for k in counts}
            base = rates[counts[0]]
            print("collect processing scaling: " + ", ".join(
                f"{k} workers {r / base:.2f}x" for k, r in rates.items()) + " (target: 2 workers >= 1.6x)")
        print(f"load at end {load()}")
    finally:
        sink.stop()
        stop_dovecot(proc)
        dispose_engines()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
