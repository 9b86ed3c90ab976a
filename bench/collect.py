"""Benchmark of the IMAP collector against a real Dovecot, and mbsync on the same mailbox.

    python bench/collect.py [--messages 20000] [--db postgresql://...]

Fills a Dovecot mailbox with realistic replies (IMAP MULTIAPPEND, ~0.15 ms a message), then
prints: the first full sync (download + raw evidence + rows), the
processing pass (parse, match, classify, record), a poll with nothing new, peak memory, and
the wall time of `mbsync` pulling the same mailbox to a local maildir, with the ratio.
Targets (DESIGN.md): first sync within 1.5x mbsync, empty poll < 50 ms, peak memory < 300 MB.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402
from sqlmodel import select  # noqa: E402

from qualibench.clock import VirtualClock  # noqa: E402
from qualibench.collecting import collect, process_pending, store_mail_batch  # noqa: E402
from qualibench.db import dispose_engines  # noqa: E402
from qualibench.mail.imap import sync_account  # noqa: E402
from tests.factories import make_campaign  # noqa: E402
from tests.plugins.collecting import PASSWORD_ENV, SHOPPER, mark_sent  # noqa: E402
from tests.plugins.dovecot import start_dovecot, stop_dovecot  # noqa: E402

OPENINGS = ["Bonjour Madame,", "Bonjour Monsieur,", "Hello,", "Dear customer,", "Madame, Monsieur,"]
BODIES = [
    "Nous sommes désolés pour la gêne occasionnée. Votre commande {n} a été retrouvée et sera "
    "livrée demain avant 13h. Un geste commercial de 10 euros a été appliqué sur votre compte.",
    "Thank you for your message about order {n}. The replacement has been shipped today and you "
    "will receive a tracking link by e-mail. We apologise for the inconvenience.",
    "Votre demande a bien été enregistrée sous la référence {n}. Un conseiller vous répondra dans "
    "les meilleurs délais. Ceci est un message automatique, merci de ne pas y répondre.",
    "Pour toute question, appelez le 0 892 68 00 00 (0,35 EUR/min) du lundi au vendredi.",
]
QUOTE = ("\n\nLe {d}, {who} a écrit :\n> Bonjour,\n> J'ai commandé un grille-pain il y a trois "
         "semaines et il ne fonctionne plus.\n> Pouvez-vous m'aider ?\n> Merci d'avance\n")


def reply(rng: random.Random, i: int, probe, when: datetime) -> bytes:
    """Return one realistic reply: plain or HTML-only, with quoted history and a signature."""
    msg = EmailMessage()
    msg["From"] = f"Service client <{probe.brand_email}>"
    msg["To"] = probe.reply_address
    msg["Subject"] = f"RE: {probe.subject}"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<bench.{i}.{rng.getrandbits(40):x}@helpdesk.example>"
    msg["In-Reply-To"] = probe.message_id
    msg["References"] = probe.message_id
    text = (f"{rng.choice(OPENINGS)}\n\n{rng.choice(BODIES).format(n=100000 + i)}\n\n"
            f"Cordialement,\nJulie - Service client\n" + "-- \nwww.example.com\n"
            + QUOTE.format(d=format_datetime(when - timedelta(days=1)), who="Client"))
    text += "".join(f"> {'lorem ipsum dolor sit amet ' * 3}\n" for _ in range(rng.randint(5, 60)))
    if rng.random() < 0.3:
        html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body></html>"
        msg.set_content(html, subtype="html", charset="utf-8")
    else:
        msg.set_content(text)
    return msg.as_bytes()


def mbsync_pull(server, tmp: Path, *, fsync: bool) -> float | None:
    """Return the wall time of mbsync pulling INBOX to an empty local maildir (None if absent)."""
    exe = shutil.which("mbsync")
    if not exe:
        return None
    tag = "fsync" if fsync else "nofsync"
    local = tmp / f"mbsync-{tag}"
    local.mkdir()
    (tmp / f"state-{tag}").mkdir()
    conf = tmp / f"mbsyncrc-{tag}"
    conf.write_text(
        f"FSync {'yes' if fsync else 'no'}\n\n"
        f"IMAPAccount bench\nHost {server.host}\nPort {server.port}\nUser {SHOPPER}\n"
        f"Pass {server.password}\nSSLType None\nAuthMechs LOGIN\n\n"
        f"IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n"
        "Channel pull\nFar :remote:\nNear :local:\nPatterns INBOX\nSync Pull\nCreate Near\n"
        f"SyncState {tmp}/state-{tag}/\n"
    )
    started = time.perf_counter()
    done = subprocess.run([exe, "-q", "-c", str(conf), "pull"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mbsync failed: {done.stderr.strip()}")
    elapsed = time.perf_counter() - started
    pulled = sum(1 for _ in (local / "INBOX" / "cur").iterdir()) + sum(
        1 for _ in (local / "INBOX" / "new").iterdir())
    print(f"mbsync (FSync {'yes, its default' if fsync else 'no'}): pulled {pulled} messages in "
          f"{elapsed:.2f} s ({pulled / elapsed:,.0f} msg/s)")
    return elapsed


def naive_pull(server, tmp: Path) -> float:
    """Return the wall time of the naive baseline the issue names: imapclient fetch, then
    email.message_from_bytes and an SQLite insert per message, one commit."""
    import email
    import sqlite3

    started = time.perf_counter()
    db = sqlite3.connect(tmp / "naive.sqlite")
    db.execute("CREATE TABLE mail (uid INTEGER PRIMARY KEY, sender TEXT, subject TEXT, "
               "message_id TEXT, raw BLOB)")
    client = IMAPClient(server.host, port=server.port, ssl=False)
    client.login(SHOPPER, server.password)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    for i in range(0, len(uids), 500):
        fetched = client.fetch(uids[i : i + 500], ["BODY.PEEK[]"])
        rows = []
        for uid, item in fetched.items():
            raw = item[b"BODY[]"]
            msg = email.message_from_bytes(raw)
            rows.append((uid, str(msg["From"]), str(msg["Subject"]), str(msg["Message-ID"]), raw))
        db.executemany("INSERT INTO mail VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    client.logout()
    db.close()
    elapsed = time.perf_counter() - started
    print(f"naive imapclient + email.message_from_bytes + SQLite insert: {len(uids)} messages in "
          f"{elapsed:.2f} s ({len(uids) / elapsed:,.0f} msg/s)")
    return elapsed


def whole_process(args: list[str], env: dict[str, str], runs: int = 5) -> tuple[float, float]:
    """Return (median wall s, median CPU s) of the installed console script run `runs` times."""
    exe = shutil.which("qualibench", path=str(Path(sys.executable).parent)) or "qualibench"
    walls, cpus = [], []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"qualibench {' '.join(args)} failed: {proc.stderr.read().decode()[-500:]}")
        proc.stderr.close()
    return statistics.median(walls), statistics.median(cpus)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in the temp dir)")
    ap.add_argument("--skip-processing", action="store_true", help="only time the raw sync")
    args = ap.parse_args()
    # A killed benchmark must still stop its Dovecot and remove its temp dir (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    tmp = Path(tempfile.mkdtemp(prefix="qb-bench-"))
    os.chmod(tmp, 0o755)
    server, proc = start_dovecot(tmp / "dovecot")
    try:
        os.environ[PASSWORD_ENV] = server.password
        clock = VirtualClock(datetime(2026, 12, 20, 12, tzinfo=UTC))
        ws = make_campaign(tmp / "c", args.db or f"sqlite:///{tmp / 'bench.sqlite'}", brands=40,
                           clock=clock, mail={"imap_host": server.host, "imap_port": server.port,
                                              "imap_security": "plain", "username": SHOPPER,
                                              "password_env": PASSWORD_ENV})
        probes = mark_sent(ws)
        print(f"campaign: {len(probes)} sent e-mail probes; rss {rss_mb():.0f} MB")

        rng = random.Random(7)
        started = time.perf_counter()
        total_bytes = 0
        # MULTIAPPEND, as a delivery through Dovecot itself (LMTP) would: Dovecot then owns
        # its index. Files dropped into new/ behind its back make every later STATUS rescan
        # the folder (~650 ms at 20,000 messages), which no real delivery path does.
        filler = IMAPClient(server.host, port=server.port, ssl=False)
        filler.login(SHOPPER, server.password)
        chunk: list[dict] = []
        for i in range(args.messages):
            p = probes[i % len(probes)]
            when = p.sent_at + timedelta(minutes=rng.randint(1, 60 * 24 * 10))
            raw = reply(rng, i, p, when)
            total_bytes += len(raw)
            chunk.append({"msg": raw, "date": when})
            if len(chunk) == 500:
                filler.multiappend("INBOX", chunk)
                chunk = []
        if chunk:
            filler.multiappend("INBOX", chunk)
        filler.logout()
        print(f"mailbox: {args.messages} messages, {total_bytes / 1e6:.1f} MB appended in "
              f"{time.perf_counter() - started:.1f} s")
        # Let Dovecot index the new mail once, so neither contender pays for it.
        c = IMAPClient(server.host, port=server.port, ssl=False)
        c.login(SHOPPER, server.password)
        c.select_folder("INBOX", readonly=True)
        c.logout()

        print(f"load average before the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        mb = mbsync_pull(server, tmp, fsync=True)
        mb_nofsync = mbsync_pull(server, tmp, fsync=False)
        if mb is None:
            print("mbsync not installed (apt-get install isync): comparison with mbsync skipped")
        naive = naive_pull(server, tmp)

        with ws.session() as s:
            campaign_id = ws.campaign(s).id
        account = ws.spec().config.accounts["shopper"]
        rss_before = rss_mb()
        started = time.perf_counter()
        folders = sync_account(ws, campaign_id, account,
                               lambda session, batch: store_mail_batch(ws, session, campaign_id, batch))
        sync_s = time.perf_counter() - started
        n = sum(f.new for f in folders)
        print(f"first sync: {n} messages, {sum(f.bytes for f in folders) / 1e6:.1f} MB in "
              f"{sync_s:.2f} s ({n / sync_s:,.0f} msg/s); peak rss {rss_mb():.0f} MB "
              f"(was {rss_before:.0f} MB before)")
        if mb and mb_nofsync:
            print(f"ratio first sync / mbsync: {sync_s / mb:.2f}x against its default (FSync yes), "
                  f"{sync_s / mb_nofsync:.2f}x against FSync no (target <= 1.5x)")

        if not args.skip_processing:
            started = time.perf_counter()
            cpu_before = time.process_time()
            report = process_pending(ws, campaign_id)
            proc_s = time.perf_counter() - started
            print(f"processing (parse, match, classify, record): {report.processed} messages in "
                  f"{proc_s:.1f} s wall, {time.process_time() - cpu_before:.1f} s CPU of this "
                  f"process ({report.processed / proc_s:,.0f} msg/s); matched "
                  f"{report.matched}, kinds {report.by_kind}; peak rss {rss_mb():.0f} MB")
            first = sync_s + proc_s
            print(f"first collect (fetch, store, parse, match, record): {first:.1f} s; "
                  + (f"{first / mb:.2f}x mbsync FSync yes (target <= 2.0x); " if mb else "")
                  + f"{first / naive:.2f}x the naive baseline (target < 1.0x)")

        imap_polls, collect_polls = [], []
        for _ in range(10):
            started = time.perf_counter()
            folders = sync_account(ws, campaign_id, account,
                                   lambda session, batch: store_mail_batch(ws, session, campaign_id, batch))
            imap_polls.append(time.perf_counter() - started)
            assert sum(f.new for f in folders) == 0
        print(f"poll with nothing new, IMAP part (login, LIST, STATUS per folder): median "
              f"{statistics.median(imap_polls) * 1000:.1f} ms, max {max(imap_polls) * 1000:.1f} ms "
              f"(target < 50 ms)")
        if not args.skip_processing:
            for _ in range(10):
                started = time.perf_counter()
                r = collect(ws, api=False)
                collect_polls.append(time.perf_counter() - started)
                assert r.new == 0
            print(f"poll with nothing new, whole collect() (IMAP + pending query + window "
                  f"censoring): median {statistics.median(collect_polls) * 1000:.1f} ms, max "
                  f"{max(collect_polls) * 1000:.1f} ms (target < 50 ms)")
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        wall, cpu = whole_process(["-C", str(ws.root), "--db", ws.db_url, "collect", "--json"], env)
        print(f"`qualibench collect` with nothing new, whole process: median {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU (target <= 0.3 s wall)")
        wall, cpu = whole_process(["--help"], env)
        print(f"`qualibench --help`: median {wall:.2f} s wall, {cpu:.2f} s CPU")
        print(f"peak memory (max RSS of the whole run): {rss_mb():.0f} MB (target <= 150 MB)")
        print(f"load average after the runs: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        from qualibench.models import InboundMessage

        with ws.session() as s:
            rows = len(s.exec(select(InboundMessage.id)).all())
        print(f"inbound rows: {rows}")
    finally:
        stop_dovecot(proc)
        dispose_engines()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
