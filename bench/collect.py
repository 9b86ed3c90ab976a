"""Benchmark of the IMAP collector against a real Dovecot, and mbsync on the same mailbox.

    python bench/collect.py [--messages 20000 [50000 ...]] [--db postgresql://...]

Fills a Dovecot mailbox with realistic replies (IMAP MULTIAPPEND), then prints, on the first
size: mbsync pulling the mailbox to a local maildir (FSync yes, its default, and FSync no); two
naive baselines; the first `collect` (fetch, durable store, parse, classify, match, record: one
pipeline, parsing in worker processes) with its wall time, processor time (this process and the
workers) and the ratios; polls with nothing new; the whole-process `qualibench collect` with
nothing new; peak memory. Each further size gets a fresh mailbox and campaign and only the first
collect, with its ratio to the first size (issue #14: 50,000 in <= 2.5x the time of 20,000).

The two naive baselines (imapclient + email.message_from_bytes + SQLite insert):
- "naive, one message at a time, as the issue measured": one FETCH and one commit per message.
  This is the issue's reference (41.7 s for 20,000 messages, ~2 ms a message, there);
- "naive, bulk": FETCH 500 at a time, one commit: a much stronger variant (~0.3 ms a message),
  printed beside it. Neither stores durably or parses the text, matches or classifies.

Targets (issue #14): first collect <= 2.0x mbsync FSync yes and faster than the naive baseline;
collect with nothing new <= 0.3 s for the whole process; peak memory <= 150 MB.
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
from email import quoprimime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imapclient import IMAPClient  # noqa: E402
from sqlmodel import select  # noqa: E402

from qualibench.clock import VirtualClock  # noqa: E402
from qualibench.collecting import collect, store_mail_batch  # noqa: E402
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


_HEADS: dict[int, tuple[bytes, bytes]] = {}


def reply(rng: random.Random, i: int, probe, when: datetime) -> bytes:
    """Return one realistic reply: plain or HTML-only, with quoted history and a signature.

    The bytes are those EmailMessage.set_content() writes (quoted-printable UTF-8, checked
    identical), assembled directly: EmailMessage took 4 ms a message, most of a 50,000 fill.
    """
    heads = _HEADS.get(probe.id)
    if heads is None:
        top = EmailMessage()
        top["From"] = f"Service client <{probe.brand_email}>"
        top["To"] = probe.reply_address
        top["Subject"] = f"RE: {probe.subject}"
        refs = EmailMessage()
        refs["In-Reply-To"] = probe.message_id
        refs["References"] = probe.message_id
        heads = _HEADS[probe.id] = (top.as_bytes().split(b"\n\n")[0] + b"\n",
                                    refs.as_bytes().split(b"\n\n")[0] + b"\n")
    message_id = f"<bench.{i}.{rng.getrandbits(40):x}@helpdesk.example>"
    text = (f"{rng.choice(OPENINGS)}\n\n{rng.choice(BODIES).format(n=100000 + i)}\n\n"
            f"Cordialement,\nJulie - Service client\n" + "-- \nwww.example.com\n"
            + QUOTE.format(d=format_datetime(when - timedelta(days=1)), who="Client"))
    text += "".join(f"> {'lorem ipsum dolor sit amet ' * 3}\n" for _ in range(rng.randint(5, 60)))
    subtype = "plain"
    if rng.random() < 0.3:
        text = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body></html>"
        subtype = "html"
    lines = text.encode("utf-8").splitlines()
    body = quoprimime.body_encode((b"\n".join(lines) + b"\n").decode("latin-1"), 78)
    return (heads[0] + f"Date: {format_datetime(when)}\nMessage-ID: {message_id}\n".encode()
            + heads[1] + f'Content-Type: text/{subtype}; charset="utf-8"\n'
            "Content-Transfer-Encoding: quoted-printable\nMIME-Version: 1.0\n\n".encode()
            + body.encode("ascii"))


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


def naive_pull(server, tmp: Path, *, one_at_a_time: bool) -> float:
    """Return the wall time of a naive baseline: imapclient fetch, email.message_from_bytes and
    an SQLite insert per message; one FETCH and one commit per message (the issue's reference),
    or 500 messages per FETCH and one commit in all (bulk)."""
    import email
    import sqlite3

    tag = "one" if one_at_a_time else "bulk"
    started = time.perf_counter()
    db = sqlite3.connect(tmp / f"naive-{tag}.sqlite")
    db.execute("CREATE TABLE mail (uid INTEGER PRIMARY KEY, sender TEXT, subject TEXT, "
               "message_id TEXT, raw BLOB)")
    client = IMAPClient(server.host, port=server.port, ssl=False)
    client.login(SHOPPER, server.password)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    step = 1 if one_at_a_time else 500
    for i in range(0, len(uids), step):
        fetched = client.fetch(uids[i : i + step], ["BODY.PEEK[]"])
        rows = []
        for uid, item in fetched.items():
            raw = item[b"BODY[]"]
            msg = email.message_from_bytes(raw)
            rows.append((uid, str(msg["From"]), str(msg["Subject"]), str(msg["Message-ID"]), raw))
        db.executemany("INSERT INTO mail VALUES (?, ?, ?, ?, ?)", rows)
        if one_at_a_time:
            db.commit()
    db.commit()
    client.logout()
    db.close()
    elapsed = time.perf_counter() - started
    name = ("naive, one message at a time, as the issue measured (one FETCH and one commit "
            "each; the issue's reference)" if one_at_a_time else
            "naive, bulk (500 per FETCH, one commit)")
    print(f"{name}: {len(uids)} messages in {elapsed:.2f} s ({len(uids) / elapsed:,.0f} msg/s)")
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


def cpu_s() -> float:
    """Processor time of this process so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fill(server, probes, n: int) -> None:
    """Append `n` replies to the server's INBOX (MULTIAPPEND, 500 a command)."""
    rng = random.Random(7)
    started = time.perf_counter()
    total_bytes = 0
    # MULTIAPPEND, as a delivery through Dovecot itself (LMTP) would: Dovecot then owns
    # its index. Files dropped into new/ behind its back make every later STATUS rescan
    # the folder (~650 ms at 20,000 messages), which no real delivery path does.
    filler = IMAPClient(server.host, port=server.port, ssl=False)
    filler.login(SHOPPER, server.password)
    chunk: list[dict] = []
    for i in range(n):
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
    print(f"mailbox: {n} messages, {total_bytes / 1e6:.1f} MB appended in "
          f"{time.perf_counter() - started:.1f} s")
    # Let Dovecot index the new mail once, so no contender pays for it.
    c = IMAPClient(server.host, port=server.port, ssl=False)
    c.login(SHOPPER, server.password)
    c.select_folder("INBOX", readonly=True)
    c.logout()


def run_size(n: int, tmp: Path, db: str | None, *, compare: bool) -> tuple[float, float]:
    """Fill a fresh mailbox and campaign with `n` replies and time their first collect; with
    `compare`, mbsync, the naive baselines and the polls with nothing new too. Return the first
    collect's wall time and processor time (this process and its parser workers)."""
    from qualibench.mail import parser_pool

    server, proc = start_dovecot(tmp / "dovecot")
    try:
        os.environ[PASSWORD_ENV] = server.password
        clock = VirtualClock(datetime(2026, 12, 20, 12, tzinfo=UTC))
        ws = make_campaign(tmp / "c", db or f"sqlite:///{tmp / 'bench.sqlite'}", brands=40,
                           clock=clock, mail={"imap_host": server.host, "imap_port": server.port,
                                              "imap_security": "plain", "username": SHOPPER,
                                              "password_env": PASSWORD_ENV})
        probes = mark_sent(ws)
        print(f"campaign: {len(probes)} sent e-mail probes; rss {rss_mb():.0f} MB")
        fill(server, probes, n)
        print(f"load average before the runs: {load()}")
        mb = naive = None
        if compare:
            mb = mbsync_pull(server, tmp, fsync=True)
            mbsync_pull(server, tmp, fsync=False)
            if mb is None:
                print("mbsync not installed (apt-get install isync): comparison with mbsync skipped")
            naive = naive_pull(server, tmp, one_at_a_time=True)
            naive_pull(server, tmp, one_at_a_time=False)

        parser_pool.USAGE.update(cpu_seconds=0.0, peak_rss_mb=0.0, workers=0)
        rss_before = rss_mb()
        cpu_before = cpu_s()
        started = time.perf_counter()
        report = collect(ws, api=False)
        first = time.perf_counter() - started
        cpu_main = cpu_s() - cpu_before
        usage = parser_pool.USAGE
        print(f"first collect (fetch, durable store, parse, classify, match, record): "
              f"{report.new} new, {report.processed} processed in {first:.2f} s wall "
              f"({report.processed / first:,.0f} msg/s); processor time {cpu_main:.1f} s in this "
              f"process + {usage['cpu_seconds']:.1f} s in {usage['workers']} parser workers "
              f"({(cpu_main + usage['cpu_seconds']) / max(report.processed, 1) * 1000:.2f} ms a "
              f"message); matched {report.matched}, kinds {report.by_kind}")
        print(f"peak rss: this process {rss_mb():.0f} MB (was {rss_before:.0f} MB before), "
              f"largest parser worker {usage['peak_rss_mb']:.0f} MB")
        if compare:
            print(f"ratios: first collect / mbsync FSync yes {first / mb:.2f}x (target <= 2.0x); "
                  if mb else "ratios: ", end="")
            print(f"/ naive one at a time {first / naive:.2f}x (target < 1.0x; the issue's "
                  f"reference)")
            _polls(ws)
        with ws.session() as s:
            from qualibench.models import InboundMessage

            rows = len(s.exec(select(InboundMessage.id)).all())
        print(f"inbound rows: {rows}; load average after: {load()}")
        return first, cpu_main + usage["cpu_seconds"]
    finally:
        stop_dovecot(proc)
        dispose_engines()


def _polls(ws) -> None:
    with ws.session() as s:
        campaign_id = ws.campaign(s).id
    account = ws.spec().config.accounts["shopper"]
    imap_polls, collect_polls = [], []
    for _ in range(10):
        started = time.perf_counter()
        folders = sync_account(ws, campaign_id, account,
                               lambda session, batch: store_mail_batch(ws, session, campaign_id, batch))
        imap_polls.append(time.perf_counter() - started)
        assert sum(f.new for f in folders) == 0
    print(f"poll with nothing new, IMAP part (login, LIST, STATUS per folder): median "
          f"{statistics.median(imap_polls) * 1000:.1f} ms, max {max(imap_polls) * 1000:.1f} ms")
    for _ in range(10):
        started = time.perf_counter()
        r = collect(ws, api=False)
        collect_polls.append(time.perf_counter() - started)
        assert r.new == 0
    print(f"poll with nothing new, whole collect() in this process: median "
          f"{statistics.median(collect_polls) * 1000:.1f} ms, max {max(collect_polls) * 1000:.1f} ms")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    wall, cpu = whole_process(["-C", str(ws.root), "--db", ws.db_url, "collect", "--json"], env)
    print(f"`qualibench collect` with nothing new, whole process: median {wall:.2f} s wall, "
          f"{cpu:.2f} s CPU (target <= 0.3 s wall)")
    wall, cpu = whole_process(["--help"], env)
    print(f"`qualibench --help`: median {wall:.2f} s wall, {cpu:.2f} s CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, nargs="+", default=[20_000],
                    help="mailbox sizes; the first gets every comparison, the others only the "
                         "first collect and its ratio to the first")
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in the temp dir)")
    args = ap.parse_args()
    # A killed benchmark must still stop its Dovecot and remove its temp dir (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"{os.cpu_count()} cores; load average at start: {load()}")
    began = time.perf_counter()
    times: list[tuple[float, float]] = []
    for k, n in enumerate(args.messages):
        tmp = Path(tempfile.mkdtemp(prefix="qb-bench-"))
        os.chmod(tmp, 0o755)
        try:
            print(f"--- {n:,} messages")
            times.append(run_size(n, tmp, args.db, compare=k == 0))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if k:
            print(f"first collect of {n:,} / of {args.messages[0]:,}: {times[k][0] / times[0][0]:.2f}x "
                  f"wall, {times[k][1] / times[0][1]:.2f}x processor time, for "
                  f"{n / args.messages[0]:.2f}x the messages (target for 50,000 / 20,000: <= 2.5x)")
    print(f"peak memory (max RSS of this process over the whole run): {rss_mb():.0f} MB "
          f"(target <= 150 MB); the whole benchmark took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
